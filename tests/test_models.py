"""The time helpers every module shares: one way to read and to write an ISO 8601 time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from commit_train.models import iso_utc, parse_time

NOON = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-25T12:00:00Z", NOON),  # GitHub
        ("2026-11-25T14:00:00+02:00", NOON),  # git's %cI, in the committer's offset
        ("2026-11-25T12:00:00.000000+00:00", NOON),  # the journal
        ("2026-11-25T12:00:00", NOON),  # no offset: UTC
        (" 2026-11-25T12:00:00Z\n", NOON),  # as git prints it
        ("2026-11-25T12:00:00.250Z", NOON + timedelta(milliseconds=250)),  # Kubernetes
    ],
)
def test_parse_time_answers_aware_utc(text: str, expected: datetime) -> None:
    parsed = parse_time(text)
    assert parsed == expected
    assert parsed.tzinfo == UTC


def test_parse_time_refuses_what_is_not_a_time() -> None:
    with pytest.raises(ValueError):
        parse_time("yesterday")


def test_iso_utc_writes_z() -> None:
    when = datetime(2026, 11, 25, 13, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    assert iso_utc(when) == "2026-11-25T12:00:00.123456Z"
    assert iso_utc(when, "seconds") == "2026-11-25T12:00:00Z"
    assert parse_time(iso_utc(when)) == when
