"""The durable outbox: work that must reach the outside world (webhooks, channel sends)."""
