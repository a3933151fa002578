"""Web chat: the embeddable widget, its WebSocket protocol (docs/channels/webchat.md), and
the ``webchat`` channel adapter that carries agents' replies back to the visitor."""
