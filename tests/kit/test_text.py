"""Search tokens: properties of kit/text.py, and the same promise kept by both databases."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kefu.kit.text import (
    MAX_QUERY_TOKENS,
    MAX_TOKEN_CHARS,
    index_tokens,
    query_tokens,
    query_words,
    search_document,
)
from kefu.runtime import Runtime
from kefu.tickets import service as tickets
from kefu.tickets.repository import TicketFilter
from kefu.tickets.schemas import TicketCreate

CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
cjk_runs = st.text(CJK, min_size=1, max_size=12)
words = st.from_regex(r"[A-Za-z0-9]{1,12}", fullmatch=True)
texts = st.lists(
    st.one_of(cjk_runs, words, st.sampled_from([" ", ", ", "。", "-", "\n"])), max_size=30
).map("".join)
WORD = re.compile(r"[\u4e00-\u9fff]+|[^\W_\u4e00-\u9fff]+")


def matches(query: str, tokens: list[str]) -> bool:
    """Whether every (token, prefix) of ``query`` finds an indexed token, as the engines do."""
    return all(
        any(t.startswith(q) if prefix else t == q for t in tokens)
        for q, prefix in query_tokens(query)
    )


@given(texts)
def test_tokens_are_lowercase_and_cjk_pieces_are_short(text: str) -> None:
    for token in index_tokens(text):
        assert token == token.lower()
        assert token.strip() == token and token
        if re.match(r"[\u4e00-\u9fff]", token):
            assert len(token) <= 2


@given(texts)
def test_every_word_of_a_text_finds_it(text: str) -> None:
    tokens = index_tokens(text)
    for word in WORD.findall(text.lower()):
        assert matches(word, tokens), word
        assert matches(word.upper(), tokens), word


@given(cjk_runs, st.data())
def test_any_piece_of_chinese_finds_its_text(run: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(run) - 1))
    end = data.draw(st.integers(start + 1, len(run)))
    assert matches(run[start:end], index_tokens(run))


@given(words.filter(lambda w: len(w) > 1), st.data())
def test_a_word_is_found_by_its_beginning(word: str, data: st.DataObject) -> None:
    cut = data.draw(st.integers(1, len(word)))
    assert matches(word[:cut], index_tokens(f"the {word} here"))


def test_two_character_chinese_words() -> None:
    assert query_tokens("退款") == [("退款", False)]
    assert index_tokens("退款申请") == ["退款", "款申", "申请", "请"]
    assert matches("申请", index_tokens("我要退款申请"))
    assert not matches("请退", index_tokens("退款申请"))
    assert query_tokens("请") == [("请", True)]


def test_query_words_group_tokens_per_word() -> None:
    assert query_words("Refund 退款申请 refund") == [
        [("refund", True)],
        [("退款", False), ("款申", False), ("申请", False)],
    ]
    assert query_words("  ,, ") == []
    assert (
        sum(len(w) for w in query_words("甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉"))
        == MAX_QUERY_TOKENS
    )


def test_runs_too_long_to_be_words_are_neither_indexed_nor_searched() -> None:
    blob = "z" * (MAX_TOKEN_CHARS + 1)
    assert index_tokens(f"refund {blob} 1042") == ["refund", "1042"]
    assert query_words(f"{blob} refund") == [[("refund", True)]]
    assert index_tokens("z" * MAX_TOKEN_CHARS) == ["z" * MAX_TOKEN_CHARS]


@given(st.text(max_size=300))
def test_queries_are_bounded(query: str) -> None:
    assert len(query_tokens(query)) <= MAX_QUERY_TOKENS
    assert all(t and not re.search(r"[\s\"*:&|!()'<>]", t) for t, _ in query_tokens(query))


@given(texts)
def test_search_document_is_the_tokens(text: str) -> None:
    assert search_document(text).split() == index_tokens(text)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(subject=st.text(st.characters(categories=("L", "N", "Zs", "P")), min_size=1, max_size=40))
@example(subject="𝋠 Ⅻ ½")  # numbers PostgreSQL's own parser did not take for words
def test_the_database_finds_a_ticket_by_each_word_of_its_subject(
    sync_runtime: Runtime, subject: str
) -> None:
    """The promise of the tokens, kept by FTS5 and by tsvector alike, for any letters."""
    if not subject.strip():
        return
    data = TicketCreate.model_validate(
        {"subject": subject, "requester": {"email": "p@example.com"}}
    )
    ticket_id = sync_runtime.db.run_write(tickets.create_ticket, None, data).id
    for word in WORD.findall(subject.lower())[:3]:
        page = sync_runtime.db.run_read(tickets.list_tickets, None, TicketFilter(q=word), limit=200)
        assert ticket_id in [t.id for t in page.items], (subject, word)
