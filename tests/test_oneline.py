"""One-line text: the one clip every deployment description, summary and table cell uses."""

from __future__ import annotations

import pytest

from commit_train.core.text import DESCRIPTION_LIMIT, clip, ljust, one_line, printable, width


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


# -- untrusted text on a terminal -------------------------------------------------------------


@pytest.mark.parametrize(
    ("hostile", "shown"),
    [
        ("\x1b]0;pwned\x07Fix", "\\x1b]0;pwned\\x07Fix"),  # OSC: set the window title
        ("\x1b[2JFix", "\\x1b[2JFix"),  # clear the screen
        ("Fix\rREVERTED", "Fix\\x0dREVERTED"),  # carriage return over the line
        ("Fix \u202egnp.exe", "Fix \\u202egnp.exe"),  # right-to-left override
        ("\u2066isolated\u2069", "\\u2066isolated\\u2069"),
        ("\x9bC1 CSI", "\\x9bC1 CSI"),
        ("Ünïcödé 日本 🚀 stays", "Ünïcödé 日本 🚀 stays"),
    ],
)
def test_printable_makes_controls_and_bidi_visible(hostile: str, shown: str) -> None:
    assert printable(hostile) == shown


def test_width_counts_display_columns() -> None:
    assert width("abc") == 3
    assert width("日本語") == 6
    assert width("🚀") == 2
    assert width("e\u0301") == 1  # e + combining acute
    assert ljust("日本", 6) == "日本  "
