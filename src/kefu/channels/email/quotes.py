"""Quoted-reply stripping for display: the new part of a reply, without the history the
mailer quoted below it. The full message is never lost: the raw original is kept as an
attachment of every email message (``inbound.ORIGINAL_NAME``).

Mailers mark the quote differently: Gmail ``<div class="gmail_quote">`` after "On ...
wrote:", Apple Mail and Thunderbird ``<blockquote type="cite">``, Outlook a "From: / Sent:"
block (``divRplyFwdMsg``, or "-----Original Message-----"), QQ and Foxmail
"------------------ 原始邮件 ------------------" or "发件人: / 发送时间:", NetEase (163/126)
"在 2024-01-02 10:00:00，"张三" <x@163.com> 写道：" before ``<blockquote id="isReplyContent">``.
When stripping would leave nothing (a bottom-posted reply, a bare forward), the full body
is shown instead.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from kefu.kit.html import html_to_text

_ATTRIBUTION = re.compile(
    r"^\s*(?:On\s.{4,300}?\swrote\s*:|在\s?.{4,200}?写道\s*[:：]|.{0,100}于.{4,200}?写道\s*[:：]"
    r"|Am\s.{4,200}?schrieb.{0,100}?:|Le\s.{4,200}?a\s+écrit\s*:|El\s.{4,200}?escribió\s*:)\s*$",
    re.IGNORECASE | re.DOTALL,
)
_SEPARATOR = re.compile(
    r"^\s*(?:-{2,}\s*(?:Original Message|Reply message|原始邮件|原始郵件|回复的原邮件)\s*-{2,}"
    r"|-{5,}\s*Original\s*-{5,}|_{10,})\s*$",
    re.IGNORECASE,
)
_HEADER_FROM = re.compile(r"^\s*\**(?:From|发件人|寄件者|發件人)\s*\**\s*[:：]", re.IGNORECASE)
_HEADER_NEXT = re.compile(
    r"^\s*\**(?:Sent|Date|To|Subject|发送时间|发件时间|日期|时间|收件人|主题|寄件日期)\s*\**\s*[:：]",
    re.IGNORECASE,
)
_HEADER_SENT = re.compile(
    r"^\s*\**(?:Sent|发送时间|发件时间|寄件日期)\s*\**\s*[:：]", re.IGNORECASE
)
_FORWARD = re.compile(r"^\s*-{2,}\s*(?:Forwarded message|转发的邮件|轉寄的郵件)", re.IGNORECASE)


def strip_text(text: str) -> str:
    """The text above the first quote marker; the whole text when nothing would be left."""
    lines = text.splitlines()
    cut = _quote_start(lines)
    if cut is None:
        return text.strip()
    kept = "\n".join(lines[:cut]).strip()
    return kept or text.strip()


def _quote_start(lines: list[str]) -> int | None:
    for i, line in enumerate(lines):
        if _FORWARD.match(line):
            return None  # a forward's quoted mail is its content
        if _SEPARATOR.match(line) or _ATTRIBUTION.match(line):
            return i
        if i + 1 < len(lines) and _ATTRIBUTION.match(line + " " + lines[i + 1]):
            return i  # "On ... <alice@\nexample.com> wrote:" wrapped over two lines
        if _HEADER_FROM.match(line) and _header_block(line, lines[i + 1 : i + 4]):
            return i
        if line.startswith(">") and all(not n.strip() or n.startswith(">") for n in lines[i:]):
            return i  # a trailing block of "> " lines
    return None


def _header_block(from_line: str, following: list[str]) -> bool:
    """A mailer's "From: / Sent:" block, not a person writing "From: Beijing / To: ...":
    the From line holds an address, or a "Sent:" line follows."""
    if any(_HEADER_SENT.match(n) for n in following):
        return True
    return "@" in from_line and any(_HEADER_NEXT.match(n) for n in following)


# -- HTML --------------------------------------------------------------------------------------
_QUOTE_CLASSES = ("gmail_quote", "yahoo_quoted", "moz-cite-prefix", "protonmail_quote")
_QUOTE_IDS = (
    "divrplyfwdmsg",
    "appendonsend",
    "isreplycontent",
    "stopspelling",
    "mail-app-auto-quote",
)
_BLOCKS = {"div", "p", "pre", "blockquote", "table", "tr", "td", "li", "hr", "body"}


class _QuoteFinder(HTMLParser):
    """Finds where the quote starts: an element mailers use for quotes, or the block
    text marker ("On ... wrote:", "原始邮件", "From: ... Sent:"). Cutting inside an element
    is fine: the sanitiser closes what was left open."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.line_starts = [0]
        for match in re.finditer("\n", source):
            self.line_starts.append(match.end())
        self.texts: list[tuple[int, str]] = []  # (offset in the source, text)
        self.cut: int | None = None

    def position(self) -> int:
        line, column = self.getpos()
        return self.line_starts[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.cut is not None:
            return
        values = {k.lower(): (v or "").lower() for k, v in attrs}
        here = self.position()
        if _is_quote_element(tag, values):
            self.cut = self._attribution_before(here)
            return
        if tag in _BLOCKS or tag == "br":
            self.texts.append((here, "\n"))

    def handle_endtag(self, tag: str) -> None:
        if self.cut is None and tag in _BLOCKS:
            self.texts.append((self.position(), "\n"))

    def handle_data(self, data: str) -> None:
        if self.cut is None and data.strip():
            self.texts.append((self.position(), data))

    def _attribution_before(self, here: int) -> int:
        """Cut above the "On ... wrote:" line that introduces the quote element."""
        lines = _text_lines(self.texts)
        if lines and _ATTRIBUTION.match(lines[-1][1]):
            return min(lines[-1][0], here)
        return here


def _is_quote_element(tag: str, values: dict[str, str]) -> bool:
    classes = values.get("class", "").split()
    if any(c.startswith(q) for c in classes for q in _QUOTE_CLASSES):
        return True
    if values.get("id", "") in _QUOTE_IDS:
        return True
    return tag == "blockquote" and values.get("type") == "cite"


def _text_lines(texts: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """The text as lines, each with the source offset where it starts."""
    lines: list[tuple[int, str]] = []
    current, start = "", 0
    for offset, piece in texts:
        for i, chunk in enumerate(piece.split("\n")):
            if i > 0:
                if current.strip():
                    lines.append((start, current.strip()))
                current = ""
            if chunk.strip() and not current.strip():
                start = offset
            current += chunk
    if current.strip():
        lines.append((start, current.strip()))
    return lines


def strip_html(source: str) -> str:
    """The HTML before the quote; the whole HTML when nothing readable would be left."""
    finder = _QuoteFinder(source)
    try:
        finder.feed(source)
        finder.close()
    except Exception:  # html.parser is lenient; this guards against the unforeseen
        return source
    cut = finder.cut
    if cut is None:
        cut = _text_marker_offset(_text_lines(finder.texts))
    if cut is None:
        return source
    kept = source[:cut]
    return kept if html_to_text(kept).strip() else source


def _text_marker_offset(lines: list[tuple[int, str]]) -> int | None:
    texts = [text for _, text in lines]
    index = _quote_start(texts)
    return None if index is None else lines[index][0]
