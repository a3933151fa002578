"""The no-code rules engine: event triggers, time automations, macros."""
