"""Telegram ``Update`` objects → kefu's inbound items. Only private chats with the bot are
customer conversations; group and channel traffic is not support work and is skipped."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from kefu.channels.base import InboundMessage, RemoteMedia
from kefu.kit.validators import check_language

log = logging.getLogger(__name__)
# Message fields holding a file: (content type when Telegram does not say, file name stem).
FILES = {
    "document": ("application/octet-stream", "document"),
    "voice": ("audio/ogg", "voice"),
    "audio": ("audio/mpeg", "audio"),
    "video": ("video/mp4", "video"),
    "video_note": ("video/mp4", "video-note"),
    "animation": ("video/mp4", "animation"),
}
EXTENSIONS = {"audio/ogg": "ogg", "audio/mpeg": "mp3", "video/mp4": "mp4", "image/jpeg": "jpg"}


def parse_update(update: Any) -> tuple[InboundMessage | None, str | None]:
    """The message in an update (None when it is not a customer's), and the id of a
    callback query to acknowledge."""
    if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
        raise ValueError("not a Telegram Update (no update_id)")
    if isinstance(update.get("message"), dict):
        return _message(update["message"], edited=False), None
    if isinstance(update.get("edited_message"), dict):
        return _message(update["edited_message"], edited=True), None
    if isinstance(update.get("callback_query"), dict):
        query = update["callback_query"]
        return _callback(query), str(query.get("id", ""))
    log.info("telegram update %s of another kind skipped", update["update_id"])
    return None, None


def _sender(m: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    sender, chat = m.get("from"), m.get("chat")
    if not isinstance(sender, dict) or not isinstance(chat, dict) or "id" not in sender:
        raise ValueError("message without from/chat")
    return sender, chat


def _base(m: dict[str, Any], sender: dict[str, Any], external_id: str) -> InboundMessage:
    name = " ".join(str(sender[k]) for k in ("first_name", "last_name") if sender.get(k))
    return InboundMessage(
        sender_kind="telegram",
        sender_value=str(sender["id"]),
        sender_name=name or str(sender.get("username") or ""),
        external_id=external_id,
        received_at=datetime.fromtimestamp(int(m.get("date") or 0), UTC) if m.get("date") else None,
        language=_language(sender.get("language_code")),
    )


def _language(code: Any) -> str | None:
    if not isinstance(code, str) or not code:
        return None
    try:
        return check_language(code.split("-")[0])
    except ValueError:
        return None


def _message(m: dict[str, Any], edited: bool) -> InboundMessage | None:
    sender, chat = _sender(m)
    if chat.get("type") != "private":
        log.info("telegram %s chat %s skipped", chat.get("type"), chat.get("id"))
        return None
    external_id = f"{chat['id']}:{m.get('message_id')}"
    if edited:
        external_id += f":edit:{m.get('edit_date')}"
    item = _base(m, sender, external_id)
    reply_to = m.get("reply_to_message")
    if isinstance(reply_to, dict):
        item.in_reply_to = [f"{chat['id']}:{reply_to.get('message_id')}"]
    _content(m, item)
    if edited:
        item.text = "[edited] " + item.text
    return item


def _content(m: dict[str, Any], item: InboundMessage) -> None:
    item.text = str(m.get("text") or m.get("caption") or "")
    if m.get("photo"):
        largest = max(m["photo"], key=lambda size: size.get("width", 0) * size.get("height", 0))
        item.media = [RemoteMedia(str(largest["file_id"]), "photo.jpg", "image/jpeg")]
        return
    for field, (default_type, stem) in FILES.items():
        if isinstance(m.get(field), dict):
            file = m[field]
            ctype = str(file.get("mime_type") or default_type)
            name = file.get("file_name") or f"{stem}.{EXTENSIONS.get(ctype, 'bin')}"
            item.media = [RemoteMedia(str(file["file_id"]), str(name), ctype)]
            return
    if isinstance(m.get("location"), dict):
        item.text = f"📍 ({m['location'].get('latitude')}, {m['location'].get('longitude')})"
    elif isinstance(m.get("contact"), dict):
        c = m["contact"]
        item.text = (
            f"👤 {c.get('first_name', '')} {c.get('last_name', '')} {c.get('phone_number', '')}"
        )
        item.text = " ".join(item.text.split())
    elif not item.text:
        kinds = [k for k in m if k not in _ENVELOPE]
        item.unsupported = f"Telegram {kinds[0] if kinds else 'empty'} message"


_ENVELOPE = {
    "message_id",
    "from",
    "chat",
    "date",
    "edit_date",
    "reply_to_message",
    "entities",
    "caption_entities",
    "forward_origin",
    "message_thread_id",
    "sender_chat",
    "via_bot",
    "has_protected_content",
    "author_signature",
    "link_preview_options",
    "reply_markup",
}


def _callback(query: dict[str, Any]) -> InboundMessage | None:
    found = query.get("message")
    message: dict[str, Any] = found if isinstance(found, dict) else {}
    sender = query.get("from")
    if not isinstance(sender, dict) or "id" not in sender:
        raise ValueError("callback_query without from")
    chat = message.get("chat") or {}
    if chat and chat.get("type") != "private":
        return None
    item = _base(message, sender, f"callback:{query.get('id')}")
    data = str(query.get("data") or "")
    item.text = _button_label(message, data) or data or "[button]"
    item.extra["callback_data"] = data
    if message.get("message_id") is not None and chat:
        item.in_reply_to = [f"{chat['id']}:{message['message_id']}"]
    return item


def _button_label(message: dict[str, Any], data: str) -> str | None:
    rows = ((message.get("reply_markup") or {}).get("inline_keyboard")) or []
    for row in rows:
        for button in row:
            if button.get("callback_data") == data:
                return str(button.get("text"))
    return None
