"""Tags, languages and time zones as kefu accepts them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kefu.kit.validators import check_language, check_time_zone, normalise_tag, normalise_tags

tag_chars = st.sampled_from(list("abcXYZ019-_.:/ 退款中"))
tags = st.text(tag_chars, min_size=1, max_size=40).filter(lambda s: s.strip())


@given(tags)
def test_a_normal_tag_stays_as_it_is(raw: str) -> None:
    tag = normalise_tag(raw)
    assert tag == tag.lower() == tag.strip()
    assert " " not in tag
    assert normalise_tag(tag) == tag


@given(st.lists(tags, max_size=10))
def test_tag_lists_are_sorted_and_unique(raw: list[str]) -> None:
    result = normalise_tags(raw)
    assert result == sorted(set(result))
    assert set(result) == {normalise_tag(t) for t in raw}


@pytest.mark.parametrize(
    "raw", ["", "   ", "a" * 51, "no<html>", "semi;colon", "emoji🙂", "quote'"]
)
def test_bad_tags_say_why(raw: str) -> None:
    with pytest.raises(ValueError, match="is not a tag"):
        normalise_tag(raw)


def test_languages_and_zones() -> None:
    assert [check_language(v) for v in ("en", "en-US", "zh", "zh-CN", "zh-Hans", "zh_CN")] == [
        "en",
        "en",
        "zh_CN",
        "zh_CN",
        "zh_CN",
        "zh_CN",
    ]
    with pytest.raises(ValueError, match="must be one of"):
        check_language("fr")
    assert check_time_zone("Asia/Shanghai") == "Asia/Shanghai"
    for zone in ("Mars/Base", "", "../../etc/passwd"):
        with pytest.raises(ValueError, match="IANA"):
            check_time_zone(zone)
