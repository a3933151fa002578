"""The admin console and the organisation's general settings."""
