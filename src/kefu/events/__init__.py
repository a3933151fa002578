"""In-process event bus; events raised in a transaction are delivered after it commits."""

from kefu.events.bus import Event, EventBus, Handler

__all__ = ["Event", "EventBus", "Handler"]
