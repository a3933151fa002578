"""Background work: periodic tasks (SLA timers, outbox delivery, scheduled rules)."""
