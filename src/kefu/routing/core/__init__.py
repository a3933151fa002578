"""The router core: which waiting work item goes to which agent next. Pure Python, no I/O,
no clock of its own. ``routing.engine`` drives it from the database, ``kefu simulate`` on
a virtual clock; both call the same ``Router``."""

from kefu.routing.core.router import Router
from kefu.routing.core.specs import (
    MEDIA,
    READY,
    AgentSpec,
    AgentState,
    Decision,
    GroupKey,
    ItemSpec,
    ItemStatus,
    Overflow,
    QueueSpec,
    Strategy,
    Weights,
    eligible,
    fits,
    widen,
)

__all__ = [
    "MEDIA",
    "READY",
    "AgentSpec",
    "AgentState",
    "Decision",
    "GroupKey",
    "ItemSpec",
    "ItemStatus",
    "Overflow",
    "QueueSpec",
    "Router",
    "Strategy",
    "Weights",
    "eligible",
    "fits",
    "widen",
]
