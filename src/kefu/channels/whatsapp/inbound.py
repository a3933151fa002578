"""Meta's ``whatsapp_business_account`` notification → kefu's inbound items."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kefu.channels.base import DeliveryUpdate, Inbound, InboundMessage, RemoteMedia
from kefu.channels.vendor import media_filename

log = logging.getLogger(__name__)
MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")
STATUSES = {"sent", "delivered", "read", "failed"}


def _list(obj: Any, key: str) -> list[Any]:
    value = obj.get(key, []) if isinstance(obj, dict) else None
    if not isinstance(value, list):
        raise ValueError(f"'{key}' must be a list")
    return value


def parse_notification(payload: Any, phone_number_id: str) -> list[Inbound]:
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        raise ValueError("not a whatsapp_business_account notification")
    items: list[Inbound] = []
    for entry in _list(payload, "entry"):
        for change in _list(entry, "changes"):
            value = change.get("value") if isinstance(change, dict) else None
            if change.get("field") != "messages" or not isinstance(value, dict):
                continue
            number = str((value.get("metadata") or {}).get("phone_number_id", ""))
            if phone_number_id and number != phone_number_id:
                log.info("whatsapp change for phone number %s skipped", number)
                continue
            items += _changes(value)
    return items


def _changes(value: dict[str, Any]) -> list[Inbound]:
    names = {
        str(c.get("wa_id")): str((c.get("profile") or {}).get("name", ""))
        for c in _list(value, "contacts")
    }
    items: list[Inbound] = [_message(m, names) for m in _list(value, "messages")]
    items += [u for u in map(_status, _list(value, "statuses")) if u is not None]
    for error in _list(value, "errors"):
        log.warning("whatsapp notification error: %s", error)
    return items


def _message(m: Any, names: dict[str, str]) -> InboundMessage:
    try:
        sender, message_id, kind = str(m["from"]), str(m["id"]), str(m.get("type", ""))
        sent_at = datetime.fromtimestamp(int(m["timestamp"]), UTC)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"message without from/id/timestamp: {exc}") from exc
    context = m.get("context") or {}
    item = InboundMessage(
        sender_kind="whatsapp",
        sender_value="+" + sender.lstrip("+"),
        sender_name=names.get(sender, ""),
        external_id=message_id,
        received_at=sent_at,
        in_reply_to=[str(context["id"])] if context.get("id") else [],
    )
    reader = _CONTENT.get(kind)
    if reader is None:
        errors = "; ".join(str(e.get("title", "")) for e in m.get("errors") or [])
        item.unsupported = f"WhatsApp {kind or 'unknown'} message" + (
            f" ({errors})" if errors else ""
        )
    else:
        reader(m, item)
    return item


def _text(m: dict[str, Any], item: InboundMessage) -> None:
    item.text = str((m.get("text") or {}).get("body", ""))


def _media(m: dict[str, Any], item: InboundMessage) -> None:
    kind = str(m["type"])
    media = m.get(kind) or {}
    ctype = str(media.get("mime_type") or "application/octet-stream").split(";")[0]
    name = media_filename(kind, ctype, media.get("filename"))
    item.media = [RemoteMedia(str(media.get("id", "")), name, ctype)]
    item.text = str(media.get("caption", ""))


def _location(m: dict[str, Any], item: InboundMessage) -> None:
    loc = m.get("location") or {}
    place = ", ".join(str(loc[k]) for k in ("name", "address") if loc.get(k))
    lat, lon = loc.get("latitude"), loc.get("longitude")
    item.text = f"📍 {place} ({lat}, {lon})" if place else f"📍 ({lat}, {lon})"
    item.extra["location"] = {"latitude": lat, "longitude": lon, "name": loc.get("name")}


def _interactive(m: dict[str, Any], item: InboundMessage) -> None:
    inter = m.get("interactive") or {}
    reply = inter.get(str(inter.get("type", ""))) or {}
    item.text = str(reply.get("title", ""))
    item.extra["reply_id"] = reply.get("id")


def _button(m: dict[str, Any], item: InboundMessage) -> None:
    button = m.get("button") or {}
    item.text = str(button.get("text", ""))
    item.extra["reply_id"] = button.get("payload")


def _contacts(m: dict[str, Any], item: InboundMessage) -> None:
    lines = []
    for card in m.get("contacts") or []:
        name = (card.get("name") or {}).get("formatted_name", "")
        phones = ", ".join(p.get("phone", "") for p in card.get("phones") or [])
        lines.append(f"👤 {name} {phones}".strip())
    item.text = "\n".join(lines)


_CONTENT: dict[str, Callable[[dict[str, Any], InboundMessage], None]] = {
    "text": _text,
    "location": _location,
    "interactive": _interactive,
    "button": _button,
    "contacts": _contacts,
    **dict.fromkeys(MEDIA_TYPES, _media),
}


def _status(s: Any) -> DeliveryUpdate | None:
    if not isinstance(s, dict) or s.get("status") not in STATUSES or not s.get("id"):
        return None
    error = None
    if s["status"] == "failed":
        error = "; ".join(map(_error, s.get("errors") or [])) or "failed"
    return DeliveryUpdate(external_id=str(s["id"]), status=s["status"], error=error)


def _error(e: dict[str, Any]) -> str:
    details = (e.get("error_data") or {}).get("details", "")
    return f"{e.get('code')} {e.get('title', '')}: {details}"
