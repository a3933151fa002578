"""The concrete channel adapters kefu ships; importing one registers it (``base.register``)."""

from __future__ import annotations

import importlib

ADAPTER_MODULES: list[str] = [
    "kefu.channels.email.adapter",
    "kefu.channels.whatsapp.adapter",
    "kefu.channels.telegram.adapter",
    "kefu.channels.sms.adapter",
    "kefu.channels.wechat.adapter",
    "kefu.channels.webform.adapter",
    "kefu.channels.voice.adapter",
    "kefu.channels.webchat.adapter",
]


def load_adapters() -> None:
    for module in ADAPTER_MODULES:
        importlib.import_module(module)
