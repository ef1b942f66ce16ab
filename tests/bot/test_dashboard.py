from datetime import UTC, datetime, timedelta
from itertools import count
from zoneinfo import ZoneInfo

import pytest

from bot.models import Case, CaseStatus, Channel, Conversation, HandoffRequest, Rating
from bot.services.cases import change_status, open_case
from bot.services.citizens import resolve_identity
from bot.services.dashboard import DashboardMetrics, metrics, period

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
SINCE = NOW - timedelta(days=7)
CHICAGO = ZoneInfo("America/Chicago")
_senders = count(1)


def citizen(session, external_id="alice", channel=Channel.WEB):
    return resolve_identity(session, channel, external_id).citizen_id


def conversation(session, citizen_id, channel, started_at):
    convo = Conversation(
        citizen_id=citizen_id,
        channel=channel,
        engine_sender_id=f"dash-{next(_senders)}",
        started_at=started_at,
        last_activity_at=started_at,
    )
    session.add(convo)
    session.flush()
    return convo


def handoff(session, convo, requested_at, claimed_after=None, handled_for=None):
    claimed_at = requested_at + claimed_after if claimed_after is not None else None
    resolved_at = claimed_at + handled_for if claimed_at and handled_for is not None else None
    request = HandoffRequest(
        conversation_id=convo.id,
        reason="asked_for_person",
        requested_at=requested_at,
        claimed_at=claimed_at,
        resolved_at=resolved_at,
    )
    session.add(request)
    session.flush()
    return request


def rating(session, citizen_id, score, answered_at):
    session.add(
        Rating(
            citizen_id=citizen_id,
            channel=Channel.WEB,
            score=score,
            asked_at=(answered_at or NOW) - timedelta(minutes=1),
            answered_at=answered_at,
        )
    )


def case(session, citizen_id, category_key, channel, created_at, steps=()):
    """Open a case at `created_at`, then walk it through (status, at) steps."""
    opened = open_case(
        session,
        citizen_id=citizen_id,
        category_key=category_key,
        description="Something to fix",
        location="1 Main St",
        channel=channel,
        now=created_at,
    )
    for status, at in steps:
        change_status(session, opened, status, actor="staff:bob", now=at)
    return opened


def to_resolved(at):
    return [
        (CaseStatus.ACKNOWLEDGED, at),
        (CaseStatus.IN_PROGRESS, at),
        (CaseStatus.RESOLVED, at),
    ]


@pytest.fixture
def busy(session):
    """A week of activity with known times; returns the overdue open cases, most overdue first."""
    alice = citizen(session, "alice")
    bob = citizen(session, "bob")

    # Conversations: three in [SINCE, NOW); one before, one exactly at NOW (both excluded).
    conversation(session, alice, Channel.WEB, SINCE)  # contained (boundary: included)
    c2 = conversation(session, alice, Channel.TELEGRAM, NOW - timedelta(days=1))
    c3 = conversation(session, bob, Channel.SMS, NOW - timedelta(hours=3))
    old = conversation(session, bob, Channel.WEB, NOW - timedelta(days=10))
    conversation(session, bob, Channel.WEB, NOW)

    # Handoffs: wait 300 s / handle 1200 s, wait 100 s / handle 600 s, one still waiting.
    handoff(session, c2, NOW - timedelta(days=1), timedelta(seconds=300), timedelta(seconds=1200))
    handoff(session, c3, NOW - timedelta(hours=2), timedelta(seconds=100), timedelta(seconds=600))
    handoff(session, c3, NOW - timedelta(minutes=30))
    # Before the period: neither counted nor averaged; the unclaimed one is still waiting now.
    handoff(session, old, NOW - timedelta(days=10), timedelta(seconds=50), timedelta(seconds=50))
    handoff(session, old, NOW - timedelta(days=9))

    # Ratings: 5, 4, 4, 1 in the period; one earlier; one never answered.
    for score in (5, 4, 4, 1):
        rating(session, alice, score, NOW - timedelta(hours=score))
    rating(session, bob, 2, NOW - timedelta(days=20))
    rating(session, bob, None, None)

    day = timedelta(days=1)
    # Open and overdue (pothole: 5-day SLA, water leak: 1 day).
    overdue_most = case(session, alice, "pothole", Channel.WEB, NOW - 20 * day)
    overdue_less = case(
        session,
        bob,
        "water_leak",
        Channel.TELEGRAM,
        NOW - 4 * day,
        [(CaseStatus.ACKNOWLEDGED, NOW - 4 * day)],
    )
    # Resolved late inside the period (opened before it).
    case(session, bob, "pothole", Channel.SMS, NOW - 30 * day, to_resolved(NOW - day))
    # Resolved on time, then reopened and resolved again late, inside the period.
    case(
        session,
        alice,
        "streetlight_out",
        Channel.WEB,
        NOW - 20 * day,
        [
            *to_resolved(NOW - 14 * day),
            (CaseStatus.IN_PROGRESS, NOW - 3 * day),
            (CaseStatus.RESOLVED, NOW - 2 * day),
        ],
    )
    # Resolved late before the period, closed inside it: not this period's breach.
    case(
        session,
        bob,
        "missed_collection",
        Channel.WEB,
        NOW - 40 * day,
        [*to_resolved(NOW - 10 * day), (CaseStatus.CLOSED, NOW - day)],
    )
    # Inside the period and on time (graffiti: 10 days): resolved, then closed.
    case(
        session,
        alice,
        "graffiti",
        Channel.WEB,
        NOW - 2 * day,
        [*to_resolved(NOW - day), (CaseStatus.CLOSED, NOW - timedelta(hours=1))],
    )
    case(session, alice, "streetlight_out", Channel.TELEGRAM, NOW - day)
    case(session, bob, "graffiti", Channel.SMS, NOW - 6 * day)
    # Rejected after its due date: not open, not resolved, so no breach.
    case(
        session,
        bob,
        "water_leak",
        Channel.WEB,
        NOW - 5 * day,
        [(CaseStatus.REJECTED, NOW - 3 * day)],
    )
    # Opened after the period's end: not counted by category/channel/status.
    case(session, bob, "graffiti", Channel.WEB, NOW + timedelta(minutes=5))
    session.flush()
    return overdue_most, overdue_less


def test_conversations_containment_and_handoffs(session, busy):
    m = metrics(session, since=SINCE, until=NOW, now=NOW)
    assert m.conversations_total == 3
    assert m.contained == 1
    assert m.containment_rate == pytest.approx(1 / 3)
    assert m.handoffs == 3
    assert m.handoff_rate == pytest.approx(2 / 3)  # two distinct conversations of three
    assert m.avg_wait_seconds == pytest.approx(200.0)
    assert m.avg_handle_seconds == pytest.approx(900.0)
    assert m.waiting_now == 2  # not bound to the period


def test_csat(session, busy):
    m = metrics(session, since=SINCE, until=NOW, now=NOW)
    assert m.csat_count == 4
    assert m.csat_average == pytest.approx(3.5)
    assert m.csat_distribution == {1: 1, 2: 0, 3: 0, 4: 2, 5: 1}


def test_cases_grouped_largest_first(session, busy):
    m = metrics(session, since=SINCE, until=NOW, now=NOW)
    assert m.cases_by_category == [("Graffiti", 2), ("Water leak", 2), ("Streetlight out", 1)]
    assert m.cases_by_channel == [("telegram", 2), ("web", 2), ("sms", 1)]
    assert m.cases_by_status == [("new", 2), ("acknowledged", 1), ("closed", 1), ("rejected", 1)]
    assert all(type(label) is str for label, _ in m.cases_by_channel + m.cases_by_status)


def test_sla_breaches_count_open_overdue_and_late_resolutions(session, busy):
    overdue_most, overdue_less = busy
    m = metrics(session, since=SINCE, until=NOW, now=NOW)
    assert m.sla_breaches == 4  # two open overdue + two resolved late in the period
    assert [b.reference for b in m.breached_cases] == [
        overdue_most.reference,
        overdue_less.reference,
    ]
    first = m.breached_cases[0]
    assert first.id == overdue_most.id
    assert first.category == "Pothole"
    assert first.status is CaseStatus.NEW
    assert first.due_at == NOW - timedelta(days=15)
    assert first.overdue == timedelta(days=15)
    assert m.breached_cases[1].overdue == timedelta(days=3)


def test_open_overdue_depends_on_now_not_on_the_period(session, busy):
    earlier = NOW - timedelta(days=10)  # the pothole was overdue, the water leak not yet
    m = metrics(session, since=SINCE, until=NOW, now=earlier)
    assert [b.category for b in m.breached_cases] == ["Pothole"]
    assert m.sla_breaches == 3
    m = metrics(session, since=SINCE, until=NOW, now=NOW - timedelta(days=16))
    assert m.breached_cases == []
    assert m.sla_breaches == 2  # the late resolutions remain


def test_breached_cases_lists_at_most_twenty(session):
    alice = citizen(session)
    for n in range(23):
        case(session, alice, "pothole", Channel.WEB, NOW - timedelta(days=30, hours=n))
    m = metrics(session, since=SINCE, until=NOW, now=NOW)
    assert m.sla_breaches == 23
    assert len(m.breached_cases) == 20
    overdue = [b.overdue for b in m.breached_cases]
    assert overdue == sorted(overdue, reverse=True)


def test_open_ended_period_includes_everything_since(session, busy):
    m = metrics(session, since=SINCE, now=NOW)
    assert m.conversations_total == 4  # the one started exactly at NOW too
    assert sum(n for _, n in m.cases_by_category) == 6


def test_empty_database(session):
    m = metrics(session, since=SINCE, until=NOW, now=NOW)
    assert m == DashboardMetrics(
        conversations_total=0,
        contained=0,
        containment_rate=None,
        handoffs=0,
        handoff_rate=None,
        avg_wait_seconds=None,
        avg_handle_seconds=None,
        csat_average=None,
        csat_count=0,
        csat_distribution={1: 0, 2: 0, 3: 0, 4: 0, 5: 0},
        cases_by_category=[],
        cases_by_channel=[],
        cases_by_status=[],
        sla_breaches=0,
        breached_cases=[],
        waiting_now=0,
    )
    assert session.query(Case).count() == 0


def test_naive_datetimes_are_refused(session):
    with pytest.raises(ValueError, match="timezone-aware"):
        metrics(session, since=datetime(2026, 11, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        period("7d", datetime(2026, 11, 1))


def test_rolling_periods():
    assert period("7d", NOW) == (NOW - timedelta(days=7), NOW)
    assert period("30d", NOW) == (NOW - timedelta(days=30), NOW)


@pytest.mark.parametrize(
    "now, midnight",
    [
        # 09:00 in Chicago (CST, UTC-6): local midnight is 06:00 UTC the same day.
        (NOW, datetime(2026, 11, 26, 6, 0, tzinfo=UTC)),
        # 02:00 UTC on the 27th is still the 26th in Chicago.
        (datetime(2026, 11, 27, 2, 0, tzinfo=UTC), datetime(2026, 11, 26, 6, 0, tzinfo=UTC)),
        # Summer time (CDT, UTC-5).
        (datetime(2026, 7, 1, 12, 0, tzinfo=UTC), datetime(2026, 7, 1, 5, 0, tzinfo=UTC)),
    ],
)
def test_today_starts_at_local_midnight(now, midnight):
    since, until = period("today", now, CHICAGO)
    assert (since, until) == (midnight, now)
    assert since.tzinfo is UTC


def test_today_defaults_to_utc():
    assert period("today", NOW) == (datetime(2026, 11, 26, tzinfo=UTC), NOW)


@pytest.mark.parametrize("name", ["", "week", "7D", "90d"])
def test_unknown_period_is_refused(name):
    with pytest.raises(ValueError, match="unknown period"):
        period(name, NOW)
