"""WeChat's XML messages and events → kefu's inbound items."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from kefu.channels.base import Inbound, InboundMessage, RemoteMedia

if TYPE_CHECKING:
    from kefu.runtime import Runtime

log = logging.getLogger(__name__)
Fields = dict[str, str]


def parse_xml(body: bytes) -> Fields:
    """The flat fields of a WeChat ``<xml>`` document (entities and DTDs are refused)."""
    try:
        root: Element = fromstring(body)
    except (ParseError, DefusedXmlException) as exc:
        raise ValueError(f"not WeChat XML: {exc}") from exc
    if root.tag != "xml":
        raise ValueError("the root element is not <xml>")
    return {child.tag: (child.text or "").strip() for child in root}


@dataclass(frozen=True)
class Followed:
    """Someone followed (or unfollowed) the account: they become a known customer, and
    the event is announced; no ticket is opened for it."""

    openid: str
    event: str

    async def apply(self, runtime: Runtime, account_id: int | None) -> None:
        from kefu.channels.wechat.service import record_follow

        await runtime.db.write(record_follow, self.openid, self.event, account_id)


def parse_message(fields: Fields) -> list[Inbound]:
    sender, kind = fields.get("FromUserName", ""), fields.get("MsgType", "")
    if not sender or not kind:
        raise ValueError("no FromUserName or MsgType")
    if kind == "event":
        return _event(fields)
    item = InboundMessage(
        sender_kind="wechat",
        sender_value=sender,
        external_id=fields.get("MsgId") or f"{sender}:{fields.get('CreateTime', '')}",
        received_at=_time(fields),
    )
    reader = _CONTENT.get(kind)
    if reader is None:
        item.unsupported = f"WeChat {kind} message"
    else:
        reader(fields, item)
    return [item]


def _time(fields: Fields) -> datetime | None:
    created = fields.get("CreateTime", "")
    return datetime.fromtimestamp(int(created), UTC) if created.isdigit() else None


def _event(fields: Fields) -> list[Inbound]:
    sender, event = fields["FromUserName"], fields.get("Event", "").lower()
    if event in ("subscribe", "unsubscribe"):
        return [Followed(sender, event)]
    if event == "click":
        item = InboundMessage(
            sender_kind="wechat",
            sender_value=sender,
            text=f"[menu: {fields.get('EventKey', '')}]",
            external_id=f"{sender}:{fields.get('CreateTime', '')}:click",
            received_at=_time(fields),
        )
        return [item]
    log.info("wechat %s event from %s skipped", event, sender)
    return []


def _text(f: Fields, item: InboundMessage) -> None:
    item.text = f.get("Content", "")


def _image(f: Fields, item: InboundMessage) -> None:
    item.media = [RemoteMedia(f.get("MediaId", ""), "image.jpg", "image/jpeg")]


def _voice(f: Fields, item: InboundMessage) -> None:
    audio = (f.get("Format") or "amr").lower()
    item.media = [RemoteMedia(f.get("MediaId", ""), f"voice.{audio}", f"audio/{audio}")]
    item.text = f.get("Recognition", "")  # WeChat's transcript, when the account enabled it


def _video(f: Fields, item: InboundMessage) -> None:
    item.media = [RemoteMedia(f.get("MediaId", ""), "video.mp4", "video/mp4")]


def _location(f: Fields, item: InboundMessage) -> None:
    place = f.get("Label", "")
    item.text = f"📍 {place} ({f.get('Location_X')}, {f.get('Location_Y')})".replace("  ", " ")


def _link(f: Fields, item: InboundMessage) -> None:
    item.text = "\n".join(p for p in (f.get("Title"), f.get("Description"), f.get("Url")) if p)


_CONTENT: dict[str, Callable[[Fields, InboundMessage], None]] = {
    "text": _text,
    "image": _image,
    "voice": _voice,
    "video": _video,
    "shortvideo": _video,
    "location": _location,
    "link": _link,
}
