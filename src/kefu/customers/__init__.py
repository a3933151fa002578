"""Customers (contacts), their identities on every channel, and companies."""
