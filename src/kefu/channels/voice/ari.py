"""Asterisk REST Interface (ARI) events → the call events kefu records.

The PBX side is a small ARI application (or any PBX that posts the same JSON) that
forwards the events of its Stasis app to kefu's webhook. Its conventions, documented in
docs/channels/voice.md: a customer's call enters the app with ``args`` ``["inbound"]`` (or
``["outbound"]`` when an agent dials out); the leg it dials to reach an agent enters with
``["dialed", <caller channel id>, <agent extension>]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

CallEventKind = Literal[
    "ringing", "dialed", "answered", "held", "unheld", "transferred", "ended", "recording"
]


@dataclass(frozen=True)
class CallEvent:
    kind: CallEventKind
    channel_ids: list[str]  # the channels it concerns, the most specific first
    at: datetime
    direction: str = "inbound"
    caller: str = ""
    callee: str = ""
    caller_name: str = ""
    agent_extension: str | None = None
    transfer_to: str | None = None
    cause: str | None = None
    recording: dict[str, Any] = field(default_factory=dict)


def _channel(event: dict[str, Any], key: str = "channel") -> dict[str, Any]:
    """A nested object of the event (a channel, a recording), {} when absent."""
    value = event.get(key)
    return value if isinstance(value, dict) else {}


def _time(event: dict[str, Any]) -> datetime:
    raw = str(event.get("timestamp") or "")
    try:
        parsed = datetime.strptime(raw, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError as exc:
            raise ValueError(f"timestamp '{raw}' is not an ISO 8601 time") from exc
    if parsed.tzinfo is None:
        raise ValueError("timestamp without a time zone")
    return parsed.astimezone(UTC)


def parse_event(event: Any) -> CallEvent | None:
    """The call event in one ARI event, None for events kefu does not track."""
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise ValueError("not an ARI event (no type)")
    reader = _READERS.get(event["type"])
    if reader is None:
        return None
    return reader(event, _time(event))


def _ids(*channels: dict[str, Any]) -> list[str]:
    ids = [str(c["id"]) for c in channels if c.get("id")]
    if not ids:
        raise ValueError("event without a channel id")
    return ids


def _stasis_start(event: dict[str, Any], at: datetime) -> CallEvent | None:
    channel = _channel(event)
    args = [str(a) for a in event.get("args") or []]
    caller = channel.get("caller") or {}
    exten = str((channel.get("dialplan") or {}).get("exten") or "")
    if args[:1] == ["dialed"]:
        if len(args) < 2:
            raise ValueError("a dialed leg names the caller's channel: args [dialed, id]")
        extension = args[2] if len(args) > 2 else None
        return CallEvent("dialed", [args[1], *_ids(channel)], at, agent_extension=extension)
    direction = "outbound" if args[:1] == ["outbound"] else "inbound"
    return CallEvent(
        "ringing",
        _ids(channel),
        at,
        direction=direction,
        caller=str(caller.get("number") or ""),
        caller_name=str(caller.get("name") or ""),
        callee=exten,
    )


def _state_change(event: dict[str, Any], at: datetime) -> CallEvent | None:
    channel = _channel(event)
    return CallEvent("answered", _ids(channel), at) if channel.get("state") == "Up" else None


def _hold(kind: CallEventKind) -> Any:
    return lambda event, at: CallEvent(kind, _ids(_channel(event)), at)


def _blind_transfer(event: dict[str, Any], at: datetime) -> CallEvent:
    channels = _ids(*(_channel(event, k) for k in ("transferee", "replace_channel", "channel")))
    return CallEvent("transferred", channels, at, transfer_to=str(event.get("exten") or ""))


def _attended_transfer(event: dict[str, Any], at: datetime) -> CallEvent:
    legs = ("transferee", "transferer_first_leg", "transferer_second_leg")
    target = _channel(event, "transfer_target")
    to = (target.get("caller") or {}).get("number") or (
        _channel(event, "transferer_second_leg").get("connected") or {}
    ).get("number")
    return CallEvent(
        "transferred", _ids(*(_channel(event, k) for k in legs)), at, transfer_to=str(to or "")
    )


def _ended(event: dict[str, Any], at: datetime) -> CallEvent:
    cause = event.get("cause_txt") or (f"cause {event['cause']}" if "cause" in event else None)
    return CallEvent("ended", _ids(_channel(event)), at, cause=cause)


def _recording(event: dict[str, Any], at: datetime) -> CallEvent:
    recording = _channel(event, "recording")
    target = str(recording.get("target_uri") or "")
    if not target.startswith("channel:") or not recording.get("name"):
        raise ValueError("a recording of a channel has a name and target_uri channel:<id>")
    return CallEvent("recording", [target.removeprefix("channel:")], at, recording=recording)


_READERS = {
    "StasisStart": _stasis_start,
    "ChannelStateChange": _state_change,
    "ChannelHold": _hold("held"),
    "ChannelUnhold": _hold("unheld"),
    "BridgeBlindTransfer": _blind_transfer,
    "BridgeAttendedTransfer": _attended_transfer,
    "ChannelDestroyed": _ended,
    "StasisEnd": _ended,
    "RecordingFinished": _recording,
}
