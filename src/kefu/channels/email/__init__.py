"""The email channel: IMAP polling, an SMTP listener and ``kefu mail ingest`` inbound, SMTP
sending outbound, all behind the one ``ChannelAdapter`` (see docs/channels/email.md)."""
