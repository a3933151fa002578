"""Tickets: the one model every channel's conversations become."""
