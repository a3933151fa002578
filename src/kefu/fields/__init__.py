"""Typed custom fields: definitions stored in the database, values validated on every write."""
