"""YAML with line numbers, and durations written for people."""

from __future__ import annotations

import pytest

from kefu.kit.durations import format_duration, parse_duration
from kefu.kit.yamlfile import YamlError, dump_yaml, load_yaml


def test_every_value_knows_its_line() -> None:
    doc = load_yaml("a: 1\nb:\n  - x: 2\n    y: [1, 2]\n  - z: 3\n")
    assert doc.data == {"a": 1, "b": [{"x": 2, "y": [1, 2]}, {"z": 3}]}
    assert doc.line_of(["b", 0, "y", 1]) == 4
    assert doc.line_of(["b", 1, "z"]) == 5
    assert doc.line_of(["b", 1, "z", "deeper", 0]) == 5  # the deepest known part
    assert doc.line_of(["missing"]) == 1


def test_syntax_errors_and_duplicate_keys_say_where() -> None:
    with pytest.raises(YamlError) as bad:
        load_yaml("a: [1\nb: 2\n")
    assert bad.value.line == 2
    with pytest.raises(YamlError) as twice:
        load_yaml("a: 1\nb:\n  c: 1\n  c: 2\n")
    assert (twice.value.message, twice.value.line) == ("duplicate key 'c'", 4)
    with pytest.raises(YamlError):
        load_yaml("!!python/object:os.system {}\n")  # safe loading only


def test_dump_keeps_order_and_chinese() -> None:
    text = dump_yaml({"b": "春节", "a": [1]})
    assert text == "b: 春节\na:\n- 1\n"
    assert load_yaml(text).data == {"b": "春节", "a": [1]}
    assert load_yaml("").data is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(90, 90), ("45s", 45), ("30m", 1800), ("1h30m", 5400), ("2d", 172_800), ("1h 5m", 3900)],
)
def test_durations_parse_and_format(text: int | str, seconds: int) -> None:
    assert parse_duration(text) == seconds
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize("bad", ["soon", "1x", "", "-5", "1.5h", True, -1])
def test_bad_durations_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)  # type: ignore[arg-type]
