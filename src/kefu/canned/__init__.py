"""Canned replies: ready answers with placeholders, inserted into the composer."""
