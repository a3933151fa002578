"""SMS and MMS through a Twilio-style API (docs/channels/sms.md)."""
