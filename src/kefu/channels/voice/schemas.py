from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class CallRead(BaseModel):
    id: int
    ticket_id: int
    customer_id: int
    agent_id: int | None
    direction: str
    from_number: str = Field(description="E.164 when it is a phone number")
    to_number: str
    state: str = Field(description="ringing, answered, held, ended or wrapped")
    ringing_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    wrapped_up_at: datetime | None
    ring_s: int | None
    talk_s: int | None
    hold_s: int
    wrap_up_s: int | None
    transferred_to: str | None
    end_cause: str | None
    recording_url: str | None
