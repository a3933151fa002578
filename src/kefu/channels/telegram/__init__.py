"""Telegram Bot API: webhook updates in, bot methods out (docs/channels/telegram.md)."""
