"""Bytes to text for every charset mail arrives in, and RFC 2047 headers as mailers really
write them.

Mailers label text with a narrower charset than they use: "gb2312" mail holds GBK and
GB18030 characters, "big5" holds HKSCS, "iso-8859-1" holds windows-1252 quotes, and old
Chinese mailers put raw 8-bit GBK in headers or cut one character across two encoded
words. Each label is read as the superset its senders actually write (the WHATWG
Encoding Standard does the same), and what cannot be decoded is replaced, never raised.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import quopri
import re

SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "ms936": "gb18030",
    "euc-cn": "gb18030",
    "gb_2312-80": "gb18030",
    "csgb2312": "gb18030",
    "chinese": "gb18030",
    "big5": "big5hkscs",
    "x-big5": "big5hkscs",
    "cn-big5": "big5hkscs",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "shift_jis": "cp932",
    "x-sjis": "cp932",
    "windows-874": "cp874",
    "tis-620": "cp874",
    "utf8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
}
_CJK = re.compile(r"[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")


def codec_for(label: str | None) -> str | None:
    """The Python codec to read text labelled ``label`` with; None when unknown."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    name = SUPERSETS.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_bytes(data: bytes, label: str | None = None) -> str:
    """Text from bytes in the labelled charset; without a usable label (or for a lying
    "ascii"), UTF-8 if it is valid, GB18030 if it reads as Chinese, else windows-1252."""
    codec = codec_for(label)
    if (codec is not None and codec not in ("cp1252", "ascii")) or data.isascii():
        return data.decode(codec or "ascii", errors="replace")
    return guess_decode(data, codec or "cp1252")


def guess_decode(data: bytes, fallback: str = "cp1252") -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        text = ""
    non_ascii = [c for c in text if ord(c) > 127]
    if non_ascii and len(_CJK.findall(text)) * 2 >= len(non_ascii):
        return text
    return data.decode(fallback, errors="replace")


def unescape_surrogates(value: str) -> str:
    """A header holding raw 8-bit bytes (read with surrogateescape) as readable text."""
    if value.isascii() or not any("\udc80" <= c <= "\udcff" for c in value):
        return value
    return guess_decode(value.encode("utf-8", errors="surrogateescape"))


_ENCODED_WORD = re.compile(r"=\?([^?\s]+?)\?([bBqQ])\?([^?]*?)\?=")


def decode_header(value: str | None) -> str:
    """An RFC 2047 header value as text, tolerant of what real mailers send: encoded words
    inside quotes or words, adjacent words sharing one character cut in two, bad base64
    padding, unknown charsets, raw 8-bit bytes."""
    if not value:
        return ""
    value = str(value)
    if value.isascii() and "=?" not in value:  # most headers: nothing to decode
        return value
    value = unescape_surrogates(value)
    pieces: list[tuple[bytes | str, str | None]] = []
    pos = 0
    for match in _ENCODED_WORD.finditer(value):
        between = value[pos : match.start()]
        if between and not (between.isspace() and pieces and _is_word(pieces[-1])):
            pieces.append((between, None))
        charset = match.group(1).split("*", 1)[0]
        pieces.append((_word_bytes(match.group(2), match.group(3)), charset))
        pos = match.end()
    if pos < len(value):
        pieces.append((value[pos:], None))
    return _join(pieces)


def _is_word(piece: tuple[bytes | str, str | None]) -> bool:
    return piece[1] is not None


def _word_bytes(encoding: str, payload: str) -> bytes:
    if encoding.lower() == "q":
        return quopri.decodestring(
            payload.replace("_", " ").encode("ascii", "replace"), header=True
        )
    cleaned = re.sub(r"[^A-Za-z0-9+/]", "", payload)
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return base64.b64decode(cleaned)
    except (binascii.Error, ValueError):
        return payload.encode("ascii", "replace")


def _join(pieces: list[tuple[bytes | str, str | None]]) -> str:
    """Adjacent encoded words of one charset are decoded together: mailers cut a
    multi-byte character across two of them."""
    out: list[str] = []
    buffer, buffer_charset = b"", None
    for data, charset in pieces:
        if charset is not None and isinstance(data, bytes):
            if buffer and codec_for(charset) != codec_for(buffer_charset):
                out.append(decode_bytes(buffer, buffer_charset))
                buffer = b""
            buffer, buffer_charset = buffer + data, charset
            continue
        if buffer:
            out.append(decode_bytes(buffer, buffer_charset))
            buffer = b""
        out.append(str(data))
    if buffer:
        out.append(decode_bytes(buffer, buffer_charset))
    return "".join(out)
