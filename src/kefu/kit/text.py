"""Text for full-text search: words, plus overlapping character pairs for Chinese/Japanese.

Neither SQLite's unicode61 tokenizer nor PostgreSQL's text parser segments CJK text, so
a run like 退款申请 is indexed as 退款 款申 申请 请 (bigrams and the run's last character);
a query is cut the same way, and a lone character still finds its pairs by prefix. Each
word of a query must be found in one text, but the words of a query may be found in
different texts of the ticket (the subject and any message).
"""

from __future__ import annotations

import re

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_TOKEN_RE = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+")
_CJK_RE = re.compile(rf"^[{_CJK}]+$")
MAX_QUERY_TOKENS = 12
# Longer runs (a pasted base64 blob) are not words anyone searches for; PostgreSQL refuses
# lexemes over 2,047 bytes, and 200 characters stay under that in any script.
MAX_TOKEN_CHARS = 200


def _cjk_pieces(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)] + [run[-1]]


def index_tokens(text: str) -> list[str]:
    tokens: list[str] = []
    for match in _TOKEN_RE.finditer(text.lower()):
        piece = match.group()
        if len(piece) > MAX_TOKEN_CHARS and not _CJK_RE.match(piece):
            continue
        tokens.extend(_cjk_pieces(piece) if _CJK_RE.match(piece) else [piece])
    return tokens


def search_document(text: str) -> str:
    return " ".join(index_tokens(text))


Token = tuple[str, bool]


def query_tokens(query: str) -> list[Token]:
    """(token, is_prefix) pairs; every token must match. Words match by prefix."""
    return [token for word in query_words(query) for token in word]


def query_words(query: str) -> list[list[Token]]:
    """The query's words, each as the (token, is_prefix) pairs that must match together in
    one text (a message or the subject); different words may match in different texts."""
    words: list[list[Token]] = []
    budget = MAX_QUERY_TOKENS
    for match in _TOKEN_RE.finditer(query.lower()):
        piece = match.group()
        if len(piece) > MAX_TOKEN_CHARS and not _CJK_RE.match(piece):
            continue
        if not _CJK_RE.match(piece) or len(piece) == 1:
            word = [(piece, True)]
        else:
            word = list(dict.fromkeys((piece[i : i + 2], False) for i in range(len(piece) - 1)))
        if word in words:
            continue
        words.append(word[:budget])
        budget -= len(words[-1])
        if budget <= 0:
            break
    return words


_REPLY_PREFIX = re.compile(
    r"^\s*(?:re|aw|sv|fw|fwd|回复|回覆|答复|答覆|转发|轉寄)\s*(?:\[\d+\])?\s*[:：]\s*",
    re.IGNORECASE,
)


def has_reply_prefix(subject: str) -> bool:
    return bool(_REPLY_PREFIX.match(subject))


def base_subject(subject: str) -> str:
    """The subject without reply/forward prefixes (Re:, Fwd:, 回复:, 答复:, 转发: ...),
    folded for comparison."""
    previous = None
    while previous != subject:
        previous, subject = subject, _REPLY_PREFIX.sub("", subject, count=1)
    return " ".join(subject.split()).casefold()
