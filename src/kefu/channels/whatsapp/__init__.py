"""WhatsApp Cloud API: Meta's webhook in, the Graph API out (docs/channels/whatsapp.md)."""
