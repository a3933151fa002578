"""The frames of the web chat WebSocket protocol (docs/channels/webchat.md), as sent by the
widget and by agents' sockets; a frame that does not validate is answered with an
``error`` frame naming the field, and the socket stays open."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

MAX_TEXT = 5000
CLIENT_ID = r"^[A-Za-z0-9_.:-]{1,64}$"


class _Frame(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Hello(_Frame):
    type: Literal["hello"]
    channel: str = Field(min_length=1, max_length=64)
    session: str | None = Field(default=None, max_length=128)
    since: int = Field(default=0, ge=0)
    identity: str | None = Field(default=None, max_length=4096)
    lang: str | None = Field(default=None, max_length=20)


class Profile(_Frame):
    type: Literal["profile"]
    name: str = Field(default="", max_length=200)
    email: str | None = Field(default=None, max_length=254)
    team_id: int | None = None


class SendMessage(_Frame):
    type: Literal["message"]
    client_id: str = Field(pattern=CLIENT_ID)
    text: str = Field(default="", max_length=MAX_TEXT)
    uploads: list[int] = Field(default_factory=list, max_length=10)


class Typing(_Frame):
    type: Literal["typing"]
    on: bool = True


class Received(_Frame):
    type: Literal["received"]
    seq: int = Field(ge=0)


class Read(_Frame):
    type: Literal["read"]
    seq: int = Field(ge=0)


class Ping(_Frame):
    type: Literal["ping"]


VisitorFrame = Annotated[
    Profile | SendMessage | Typing | Received | Read | Ping, Field(discriminator="type")
]
VISITOR_FRAME: TypeAdapter[VisitorFrame] = TypeAdapter(VisitorFrame)


class AgentTyping(_Frame):
    type: Literal["typing"]
    ticket_id: int
    on: bool = True


class AgentRead(_Frame):
    type: Literal["read"]
    ticket_id: int


class Watch(_Frame):
    type: Literal["watch"]
    ticket_ids: list[int] = Field(max_length=500)


AgentFrame = Annotated[AgentTyping | AgentRead | Watch | Ping, Field(discriminator="type")]
AGENT_FRAME: TypeAdapter[AgentFrame] = TypeAdapter(AgentFrame)
