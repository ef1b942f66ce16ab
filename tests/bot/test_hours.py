from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot import hours

WEEK = {
    "mon": "08:30-17:00",
    "tue": "08:30-17:00",
    "wed": "08:30-17:00",
    "thu": "08:30-17:00",
    "fri": "08:30-16:00",
    "sat": "09:00-12:00",
    "sun": None,
}
CHICAGO = ZoneInfo("America/Chicago")


def at(local: str) -> datetime:
    return datetime.fromisoformat(local).replace(tzinfo=CHICAGO).astimezone(UTC)


def test_open_respects_the_city_time_zone():
    # 15:00 UTC on a Monday in winter is 09:00 in Chicago: open.
    assert hours.is_open(WEEK, datetime(2026, 11, 30, 15, 0, tzinfo=UTC), CHICAGO)
    # 14:00 UTC is 08:00 in Chicago: not yet open (though 14:00 "looks" open in UTC).
    assert not hours.is_open(WEEK, datetime(2026, 11, 30, 14, 0, tzinfo=UTC), CHICAGO)


def test_closing_time_is_exclusive_and_closed_days_are_closed():
    assert not hours.is_open(WEEK, at("2026-11-27T16:00"), CHICAGO)  # Friday 16:00
    assert not hours.is_open(WEEK, at("2026-11-29T10:00"), CHICAGO)  # Sunday


def test_describe_open_now_says_when_it_opens_next():
    assert hours.describe_open_now(WEEK, at("2026-11-30T10:00"), CHICAGO) == "open now, until 17:00"
    assert (
        hours.describe_open_now(WEEK, at("2026-11-28T13:00"), CHICAGO)
        == "closed now; opens Monday at 08:30"
    )
    assert (
        hours.describe_open_now(WEEK, at("2026-11-30T07:00"), CHICAGO)
        == "closed now; opens today at 08:30"
    )


def test_describe_groups_equal_days():
    assert hours.describe(WEEK) == (
        "Mon–Thu 08:30–17:00, Fri 08:30–16:00, Sat 09:00–12:00, Sun closed"
    )


@pytest.mark.parametrize(
    "bad", [{"mon": "9-5"}, {**WEEK, "mon": "17:00-08:00"}, {**WEEK, "mon": "soon"}]
)
def test_invalid_hours_are_rejected(bad):
    with pytest.raises(ValueError):
        hours.validate(bad)
