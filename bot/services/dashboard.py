"""Supervisor dashboard figures: containment, handoffs, waits, CSAT, cases and SLA breaches.

Counting is done in SQL (aggregates, GROUP BY); durations are computed in Python over the
fetched timestamp pairs, so the same code runs on SQLite and PostgreSQL. A period is the
half-open interval [since, until); `until=None` leaves it open-ended.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, case, exists, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from bot.models import (
    Case,
    CaseCategory,
    CaseEvent,
    CaseStatus,
    Conversation,
    HandoffRequest,
    Rating,
    utcnow,
)
from bot.services.cases import OPEN_STATUSES

#: How many open overdue cases `DashboardMetrics.breached_cases` lists at most.
MAX_BREACHED_LISTED = 20
PERIODS = ("today", "7d", "30d")
_DONE_STATUSES = (CaseStatus.RESOLVED, CaseStatus.CLOSED)
SCORES = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class BreachedCase:
    """An open case past its due date."""

    id: int
    reference: str
    category: str
    status: CaseStatus
    due_at: datetime
    overdue: timedelta


@dataclass(frozen=True)
class DashboardMetrics:
    """The dashboard's figures for one period; rates and averages are None without data."""

    conversations_total: int
    contained: int
    containment_rate: float | None
    handoffs: int
    handoff_rate: float | None
    avg_wait_seconds: float | None
    avg_handle_seconds: float | None
    csat_average: float | None
    csat_count: int
    csat_distribution: dict[int, int]
    cases_by_category: list[tuple[str, int]]
    cases_by_channel: list[tuple[str, int]]
    cases_by_status: list[tuple[str, int]]
    sla_breaches: int
    breached_cases: list[BreachedCase]
    waiting_now: int


def period(name: str, now: datetime, tz: tzinfo = UTC) -> tuple[datetime, datetime]:
    """(since, until) in UTC for "today" (since local midnight in `tz`), "7d" or "30d"
    (rolling); `until` is `now`. Anything else raises ValueError."""
    _require_aware(now, "now")
    now = now.astimezone(UTC)
    if name == "today":
        local = now.astimezone(tz)
        midnight = datetime.combine(local.date(), time(0), tzinfo=tz)
        return midnight.astimezone(UTC), now
    if name == "7d":
        return now - timedelta(days=7), now
    if name == "30d":
        return now - timedelta(days=30), now
    raise ValueError(f"unknown period {name!r} (use one of {', '.join(PERIODS)})")


def metrics(
    session: Session,
    *,
    since: datetime,
    until: datetime | None = None,
    now: datetime | None = None,
) -> DashboardMetrics:
    """Compute the dashboard for [since, until); `now` (default: the current time) decides
    which open cases are overdue."""
    _require_aware(since, "since")
    if until is not None:
        _require_aware(until, "until")
    now = now or utcnow()
    _require_aware(now, "now")

    total, contained = _conversations(session, since, until)
    handoffs = _handoffs(session, since, until)
    distribution = _csat_distribution(session, since, until)
    csat_count = sum(distribution.values())
    open_breaches, breached = _open_breaches(session, now)
    return DashboardMetrics(
        conversations_total=total,
        contained=contained,
        containment_rate=_ratio(contained, total),
        handoffs=handoffs,
        # Of the period's conversations, the share a person was asked into (so that it and
        # the containment rate add up to 1).
        handoff_rate=_ratio(total - contained, total),
        avg_wait_seconds=_average_wait(session, since, until),
        avg_handle_seconds=_average_handle(session, since, until),
        csat_average=(
            sum(score * n for score, n in distribution.items()) / csat_count if csat_count else None
        ),
        csat_count=csat_count,
        csat_distribution=distribution,
        cases_by_category=_cases_by(session, CaseCategory.name, since, until),
        cases_by_channel=_cases_by(session, Case.channel, since, until),
        cases_by_status=_cases_by(session, Case.status, since, until),
        sla_breaches=open_breaches + _late_resolutions(session, since, until),
        breached_cases=breached,
        waiting_now=_waiting_now(session),
    )


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _within(
    column: InstrumentedAttribute[Any], since: datetime, until: datetime | None
) -> list[ColumnElement[bool]]:
    conditions = [column >= since]
    if until is not None:
        conditions.append(column < until)
    return conditions


def _in_window(at: datetime, since: datetime, until: datetime | None) -> bool:
    return at >= since and (until is None or at < until)


def _conversations(session: Session, since: datetime, until: datetime | None) -> tuple[int, int]:
    """Conversations started in the period, and how many of them never had a handoff."""
    had_handoff = exists().where(HandoffRequest.conversation_id == Conversation.id)
    row = session.execute(
        select(
            func.count(Conversation.id),
            func.count(case((~had_handoff, Conversation.id))),
        ).where(*_within(Conversation.started_at, since, until))
    ).one()
    return int(row[0]), int(row[1])


def _handoffs(session: Session, since: datetime, until: datetime | None) -> int:
    """Handoff requests made in the period."""
    return (
        session.scalar(
            select(func.count(HandoffRequest.id)).where(
                *_within(HandoffRequest.requested_at, since, until)
            )
        )
        or 0
    )


def _average_seconds(pairs: Sequence[tuple[datetime, datetime]]) -> float | None:
    if not pairs:
        return None
    return sum((end - start).total_seconds() for start, end in pairs) / len(pairs)


def _average_wait(session: Session, since: datetime, until: datetime | None) -> float | None:
    """Mean requested→claimed time over the requests claimed in the period."""
    rows = session.execute(
        select(HandoffRequest.requested_at, HandoffRequest.claimed_at).where(
            HandoffRequest.claimed_at.is_not(None),
            *_within(HandoffRequest.claimed_at, since, until),
        )
    ).all()
    return _average_seconds([(r[0], r[1]) for r in rows])


def _average_handle(session: Session, since: datetime, until: datetime | None) -> float | None:
    """Mean claimed→resolved time over the claimed requests resolved in the period."""
    rows = session.execute(
        select(HandoffRequest.claimed_at, HandoffRequest.resolved_at).where(
            HandoffRequest.claimed_at.is_not(None),
            HandoffRequest.resolved_at.is_not(None),
            *_within(HandoffRequest.resolved_at, since, until),
        )
    ).all()
    return _average_seconds([(r[0], r[1]) for r in rows])


def _csat_distribution(session: Session, since: datetime, until: datetime | None) -> dict[int, int]:
    """{1: n, …, 5: n} over the ratings answered (with a score) in the period."""
    rows = session.execute(
        select(Rating.score, func.count(Rating.id))
        .where(
            Rating.score.is_not(None),
            Rating.answered_at.is_not(None),
            *_within(Rating.answered_at, since, until),
        )
        .group_by(Rating.score)
    ).all()
    distribution = dict.fromkeys(SCORES, 0)
    for score, count in rows:
        if score in distribution:
            distribution[score] = int(count)
    return distribution


def _cases_by(
    session: Session,
    key: InstrumentedAttribute[Any],
    since: datetime,
    until: datetime | None,
) -> list[tuple[str, int]]:
    """Cases created in the period counted by `key`, largest first (ties by name)."""
    count = func.count(Case.id)
    rows = session.execute(
        select(key, count)
        .select_from(Case)
        .join(CaseCategory, CaseCategory.id == Case.category_id)
        .where(*_within(Case.created_at, since, until))
        .group_by(key)
        .order_by(count.desc(), key)
    ).all()
    return [(getattr(value, "value", value), int(n)) for value, n in rows]


def _open_breaches(session: Session, now: datetime) -> tuple[int, list[BreachedCase]]:
    """How many open cases are past due, and the most overdue of them."""
    overdue = (Case.status.in_(OPEN_STATUSES), Case.due_at < now)
    count = session.scalar(select(func.count(Case.id)).where(*overdue)) or 0
    rows = session.execute(
        select(Case.id, Case.reference, CaseCategory.name, Case.status, Case.due_at)
        .join(CaseCategory, CaseCategory.id == Case.category_id)
        .where(*overdue)
        .order_by(Case.due_at, Case.id)
        .limit(MAX_BREACHED_LISTED)
    ).all()
    listed = [
        BreachedCase(
            id=r.id,
            reference=r.reference,
            category=r.name,
            status=r.status,
            due_at=r.due_at,
            overdue=now - r.due_at,
        )
        for r in rows
    ]
    return int(count), listed


def _late_resolutions(session: Session, since: datetime, until: datetime | None) -> int:
    """Cases now resolved/closed whose resolution fell in the period and after their due date.

    The resolution is the case's last move to RESOLVED (a reopened case counts its final
    resolution; a later close does not move it), or its first move to CLOSED if it was never
    resolved.
    """
    touched = (
        select(CaseEvent.case_id)
        .where(
            CaseEvent.to_status.in_(_DONE_STATUSES),
            *_within(CaseEvent.created_at, since, until),
        )
        .distinct()
    )
    rows = session.execute(
        select(Case.id, Case.due_at, CaseEvent.to_status, CaseEvent.created_at)
        .join(CaseEvent, CaseEvent.case_id == Case.id)
        .where(
            Case.status.in_(_DONE_STATUSES),
            CaseEvent.to_status.in_(_DONE_STATUSES),
            Case.id.in_(touched),
        )
        .order_by(Case.id, CaseEvent.created_at, CaseEvent.id)
    ).all()
    due: dict[int, datetime] = {}
    resolved: dict[int, datetime] = {}
    closed: dict[int, datetime] = {}
    for case_id, due_at, to_status, at in rows:
        due[case_id] = due_at
        if to_status is CaseStatus.RESOLVED:
            resolved[case_id] = at  # rows are in time order: the last one wins
        else:
            closed.setdefault(case_id, at)
    late = 0
    for case_id, due_at in due.items():
        at = resolved.get(case_id) or closed[case_id]
        if _in_window(at, since, until) and at > due_at:
            late += 1
    return late


def _waiting_now(session: Session) -> int:
    """Handoff requests nobody has claimed or resolved yet."""
    count = session.scalar(
        select(func.count(HandoffRequest.id)).where(
            HandoffRequest.resolved_at.is_(None), HandoffRequest.claimed_at.is_(None)
        )
    )
    return int(count or 0)
