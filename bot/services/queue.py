"""The staff queue: unresolved, unclaimed handoff requests per department, highest priority
first, then oldest. Positions and estimated waits for citizens; the console's list.

Everything is read from the database, so the queue survives a gateway restart and any number
of gateways (and console tabs) see the same one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from bot.models import (
    AuthorKind,
    Citizen,
    Conversation,
    Department,
    HandoffRequest,
    StaffUser,
    utcnow,
)

#: Assumed minutes per conversation before the department has a history of its own.
DEFAULT_HANDLE_MINUTES = 5.0
#: How many recent handoffs the average handle time is taken over.
HANDLE_SAMPLE = 20
#: Staff seen in the console this recently count as working the queue.
ONLINE_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class QueueEntry:
    request: HandoffRequest
    conversation: Conversation
    citizen: Citizen
    department: Department | None
    position: int  # 1-based, within the department
    waiting_for: timedelta


def _waiting() -> Select[tuple[HandoffRequest]]:
    return select(HandoffRequest).where(
        HandoffRequest.resolved_at.is_(None), HandoffRequest.claimed_at.is_(None)
    )


def _ordered(query: Select[tuple[HandoffRequest]]) -> Select[tuple[HandoffRequest]]:
    return query.order_by(
        HandoffRequest.priority.desc(), HandoffRequest.requested_at, HandoffRequest.id
    )


def waiting(
    session: Session, department_id: int | None = None, *, now: datetime | None = None
) -> list[QueueEntry]:
    """The waiting requests (all departments, or one), each with its position in its own
    department's queue."""
    now = now or utcnow()
    query = _waiting()
    if department_id is not None:
        query = query.where(HandoffRequest.department_id == department_id)
    entries, positions = [], {}
    for request in session.scalars(_ordered(query)):
        positions[request.department_id] = positions.get(request.department_id, 0) + 1
        conversation = request.conversation
        entries.append(
            QueueEntry(
                request,
                conversation,
                conversation.citizen,
                request.department,
                positions[request.department_id],
                now - request.requested_at,
            )
        )
    return entries


def position_of(session: Session, request: HandoffRequest) -> int | None:
    """1-based place in its department's queue; None once claimed or resolved."""
    if request.claimed_at is not None or request.resolved_at is not None:
        return None
    ids = session.scalars(
        _ordered(
            _waiting().where(HandoffRequest.department_id == request.department_id)
        ).with_only_columns(HandoffRequest.id)
    ).all()
    return ids.index(request.id) + 1 if request.id in ids else None


def average_handle_minutes(session: Session, department_id: int | None) -> float:
    """Mean claimed→resolved time of the department's recent handoffs (a default if none)."""
    rows = session.execute(
        select(HandoffRequest.claimed_at, HandoffRequest.resolved_at)
        .where(
            HandoffRequest.department_id == department_id,
            HandoffRequest.claimed_at.is_not(None),
            HandoffRequest.resolved_at.is_not(None),
        )
        .order_by(HandoffRequest.resolved_at.desc())
        .limit(HANDLE_SAMPLE)
    ).all()
    minutes = [(done - start).total_seconds() / 60 for start, done in rows if done >= start]
    return sum(minutes) / len(minutes) if minutes else DEFAULT_HANDLE_MINUTES


def staff_online(
    session: Session, department_id: int | None, *, now: datetime | None = None
) -> int:
    """Active staff seen lately who work this department's queue (or every queue)."""
    now = now or utcnow()
    return (
        session.scalar(
            select(func.count(StaffUser.id)).where(
                StaffUser.active.is_(True),
                StaffUser.last_seen_at >= now - ONLINE_WINDOW,
                or_(StaffUser.department_id.is_(None), StaffUser.department_id == department_id),
            )
        )
        or 0
    )


def estimated_wait_minutes(
    session: Session, department_id: int | None, position: int, *, now: datetime | None = None
) -> int:
    """Whole minutes, at least 1: people ahead (and you) × handle time ÷ staff working."""
    per_person = average_handle_minutes(session, department_id)
    staff = max(staff_online(session, department_id, now=now), 1)
    return max(1, math.ceil(position * per_person / staff))


def position_text(position: int, minutes: int) -> str:
    ahead = "You're next" if position == 1 else f"You're number {position} in the queue"
    wait = "about a minute" if minutes <= 1 else f"about {minutes} minutes"
    return f"{ahead}; the estimated wait is {wait}."


def announce_positions(session: Session, department_id: int | None) -> int:
    """Tell every waiting citizen of the department whose place changed where they are now.

    Called whenever the queue moves (a claim, a transfer, a resolution). Returns how many
    citizens were told.
    """
    from bot.services.delivery import say

    told = 0
    for entry in waiting(session, department_id):
        if department_id is None and entry.request.department_id is not None:
            continue
        request = entry.request
        if request.notified_position == entry.position:
            continue
        minutes = estimated_wait_minutes(session, request.department_id, entry.position)
        say(
            session,
            entry.conversation,
            "Queue update: " + position_text(entry.position, minutes),
            author=AuthorKind.SYSTEM,
        )
        request.notified_position = entry.position
        told += 1
    return told


def open_request(session: Session, conversation_id: int) -> HandoffRequest | None:
    """The conversation's unresolved handoff request, if any."""
    return session.scalar(
        select(HandoffRequest)
        .where(
            HandoffRequest.conversation_id == conversation_id,
            HandoffRequest.resolved_at.is_(None),
        )
        .order_by(HandoffRequest.id.desc())
        .limit(1)
    )
