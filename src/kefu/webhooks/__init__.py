"""Outbound webhooks: signed, retried, SSRF-guarded deliveries of events."""
