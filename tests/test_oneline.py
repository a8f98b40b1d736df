"""One-line text: the one clip every deployment description, summary and table cell uses."""

from __future__ import annotations

import pytest

from commit_train.core.text import DESCRIPTION_LIMIT, clip, one_line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("short", "short"),
        ("a\n  multi-line\tmessage ", "a multi-line message"),
        ("x" * 140, "x" * 140),
        ("x" * 141, "x" * 139 + "…"),
        ("word " * 27 + "abcdefghijk", "word " * 26 + "word…"),
        ("word " * 30, "word " * 27 + "word…"),
        ("a, " * 60, "a, " * 45 + "a…"),
        ("x" * 130 + " done. more words here", "x" * 130 + " done…"),
        ("short " + "y" * 200, "short " + "y" * 133 + "…"),
    ],
    ids=[
        "short",
        "whitespace",
        "exactly 140",
        "one over",
        "boundary",
        "space at cut",
        "punctuation",
        "full stop",
        "giant",
    ],
)
def test_clip_to_a_deployment_description(text: str, expected: str) -> None:
    assert clip(text) == expected
    assert len(clip(text)) <= DESCRIPTION_LIMIT


def test_clip_to_a_table_cell() -> None:
    assert clip("word " * 40, limit=20) == "word word word word…"
    assert clip("Add the checkout page and its tests", 20) == "Add the checkout…"


def test_one_line() -> None:
    assert one_line("  two\nlines\t here ") == "two lines here"
    assert one_line("") == ""
