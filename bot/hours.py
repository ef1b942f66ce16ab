"""Weekly opening hours as stored in the catalogue: `{"mon": "08:00-17:00", ..., "sun": None}`."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = dict(
    zip(
        DAYS,
        ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
        strict=True,
    )
)

WeeklyHours = dict[str, str | None]


def parse_span(span: str) -> tuple[time, time]:
    """`"08:30-17:00"` → (08:30, 17:00); raises ValueError on anything else."""
    start, end = (time.fromisoformat(part.strip()) for part in span.split("-"))
    if end <= start:
        raise ValueError(f"closing time before opening time in {span!r}")
    return start, end


def validate(hours: WeeklyHours) -> None:
    """Raise ValueError unless `hours` names all seven days with a valid span or None."""
    if set(hours) != set(DAYS):
        raise ValueError(f"opening hours must list exactly {', '.join(DAYS)}")
    for span in hours.values():
        if span is not None:
            parse_span(span)


def is_open(hours: WeeklyHours, at: datetime, tz: ZoneInfo) -> bool:
    local = at.astimezone(tz)
    span = hours.get(DAYS[local.weekday()])
    if not span:
        return False
    start, end = parse_span(span)
    return start <= local.time() < end


def next_opening(hours: WeeklyHours, at: datetime, tz: ZoneInfo) -> datetime | None:
    """The next moment (local time) the place opens after `at`, or None if it never opens."""
    local = at.astimezone(tz)
    for offset in range(8):
        day = local + timedelta(days=offset)
        span = hours.get(DAYS[day.weekday()])
        if not span:
            continue
        start, _ = parse_span(span)
        opening = datetime.combine(day.date(), start, tzinfo=tz)
        if opening > local:
            return opening
    return None


def describe(hours: WeeklyHours) -> str:
    """Compact human text: "Mon–Fri 08:00–17:00, Sat 09:00–12:00, Sun closed"."""
    groups: list[tuple[list[str], str | None]] = []
    for day in DAYS:
        span = hours.get(day)
        if groups and groups[-1][1] == span:
            groups[-1][0].append(day)
        else:
            groups.append(([day], span))
    parts = []
    for days, span in groups:
        label = days[0].title() if len(days) == 1 else f"{days[0].title()}–{days[-1].title()}"
        parts.append(f"{label} {span.replace('-', '–') if span else 'closed'}")
    return ", ".join(parts)


def describe_open_now(hours: WeeklyHours, at: datetime, tz: ZoneInfo) -> str:
    """ "open now, until 17:00" or "closed now; opens Monday at 08:30" """
    local = at.astimezone(tz)
    if is_open(hours, local, tz):
        _, end = parse_span(hours[DAYS[local.weekday()]] or "")
        return f"open now, until {end:%H:%M}"
    nxt = next_opening(hours, local, tz)
    if nxt is None:
        return "closed"
    when = (
        "today"
        if nxt.date() == local.date()
        else (
            "tomorrow"
            if nxt.date() == (local + timedelta(days=1)).date()
            else DAY_NAMES[DAYS[nxt.weekday()]]
        )
    )
    return f"closed now; opens {when} at {nxt:%H:%M}"
