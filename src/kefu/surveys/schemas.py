from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class SurveyRead(BaseModel):
    """A survey as agents see it (the token, the customer's credential, is not shown)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    ticket_id: int
    customer_id: int
    rating: int | None
    comment: str | None
    created_at: datetime
    rated_at: datetime | None


class SurveyPage(BaseModel):
    """What the customer's survey page shows."""

    ticket_id: int
    subject: str
    language: str | None  # the ticket's or its requester's; None: the browser's
    rating: int | None
    comment: str | None
