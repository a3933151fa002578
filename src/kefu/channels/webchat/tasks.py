"""Background work of web chat: the transcript email, delivered by the outbox."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kefu.channels.base import adapter_for
from kefu.channels.delivery import secret_box
from kefu.channels.webchat import transcript
from kefu.channels.webchat.service import TRANSCRIPT_KIND
from kefu.outbox import tasks as outbox_tasks

if TYPE_CHECKING:
    from kefu.runtime import Runtime


async def send_transcript(runtime: Runtime, payload: dict[str, Any]) -> dict[str, Any]:
    session_id, seq = int(payload["session_id"]), int(payload["seq"])
    plan = await runtime.db.read(transcript.plan, secret_box(runtime), session_id, seq)
    if plan is None:
        return {"skipped": "the visitor received the reply, or a transcript covered it"}
    adapter = adapter_for(transcript.EMAIL)
    assert adapter is not None  # plan() raised otherwise
    result = await adapter.send(plan.message, plan.settings)
    await runtime.db.write(transcript.sent, session_id, plan.seq)
    return {"external_id": result.external_id, "to": plan.message.to, "seq": plan.seq}


def register() -> None:
    outbox_tasks.register(TRANSCRIPT_KIND, send_transcript)
