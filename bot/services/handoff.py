"""Requests for a person: which department, whether it is open, the queue, call-backs.

The department comes from the conversation's context (the service or case category
discussed), else the general contact centre. Inside its business hours the conversation joins
that department's queue and the citizen hears their position and an estimated wait; outside
them the caller offers a call-back request (a case) instead (`request_callback`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import hours
from bot.models import (
    Case,
    CaseCategory,
    Conversation,
    ConversationState,
    Department,
    HandoffRequest,
    Priority,
    Service,
    utcnow,
)
from bot.services import queue

GENERAL_DEPARTMENT = "customer_service"
CALLBACK_CATEGORY = "callback_request"
_PRIORITY_RANK = {Priority.URGENT: 2, Priority.HIGH: 1}


@dataclass(frozen=True)
class Availability:
    department: Department | None
    open_now: bool
    next_opening: datetime | None  # in the city's time zone

    @property
    def team(self) -> str:
        return self.department.name if self.department else "our contact centre"


@dataclass(frozen=True)
class Queued:
    request: HandoffRequest
    team: str
    position: int
    wait_minutes: int
    already_waiting: bool


def departments(session: Session) -> list[Department]:
    """Every department, by name (for choosing where to transfer)."""
    return list(session.scalars(select(Department).order_by(Department.name)))


def department_by_key(session: Session, key: str) -> Department | None:
    return session.scalar(select(Department).where(Department.key == key))


def _context(
    session: Session, service_key: str | None, category_key: str | None
) -> tuple[Department | None, int]:
    """The department of the service or case category discussed (else the general one), and
    the queue priority the category asks for."""
    if service_key:
        service = session.scalar(select(Service).where(Service.key == service_key))
        if service:
            return service.department, 0
    if category_key:
        category = session.scalar(select(CaseCategory).where(CaseCategory.key == category_key))
        if category:
            return category.department, _PRIORITY_RANK.get(category.default_priority, 0)
    return department_by_key(session, GENERAL_DEPARTMENT), 0


def availability(
    session: Session,
    *,
    tz: ZoneInfo,
    service_key: str | None = None,
    category_key: str | None = None,
    now: datetime | None = None,
) -> Availability:
    """Which team would take the conversation, and whether it is working now."""
    now = now or utcnow()
    department, _ = _context(session, service_key, category_key)
    weekly = department.business_hours if department else {}
    return Availability(
        department,
        open_now=bool(weekly) and hours.is_open(weekly, now, tz),
        next_opening=hours.next_opening(weekly, now, tz) if weekly else None,
    )


def request_handoff(
    session: Session,
    conversation: Conversation,
    *,
    reason: str,
    service_key: str | None = None,
    category_key: str | None = None,
    now: datetime | None = None,
) -> Queued:
    """Queue the conversation for staff (once) and say where it stands."""
    now = now or utcnow()
    pending = queue.open_request(session, conversation.id)
    already = pending is not None
    if pending is None:
        department, priority = _context(session, service_key, category_key)
        pending = HandoffRequest(
            conversation_id=conversation.id,
            reason=reason,
            priority=priority,
            department_id=department.id if department else None,
            requested_at=now,
        )
        session.add(pending)
    if conversation.state is ConversationState.BOT:
        conversation.state = ConversationState.WAITING_FOR_STAFF
    session.flush()
    position = queue.position_of(session, pending) or 1
    pending.notified_position = position
    return Queued(
        request=pending,
        team=pending.department.name if pending.department else "our contact centre",
        position=position,
        wait_minutes=queue.estimated_wait_minutes(
            session, pending.department_id, position, now=now
        ),
        already_waiting=already,
    )


def open_callback_case(session: Session, conversation_id: int) -> Case | None:
    """The conversation's call-back case that is still open, if any."""
    from bot.services.cases import OPEN_STATUSES

    return session.scalar(
        select(Case)
        .join(CaseCategory, Case.category_id == CaseCategory.id)
        .where(
            Case.conversation_id == conversation_id,
            CaseCategory.key == CALLBACK_CATEGORY,
            Case.status.in_(OPEN_STATUSES),
        )
        .limit(1)
    )


def request_callback(
    session: Session,
    conversation: Conversation,
    *,
    phone: str,
    department: Department | None,
    back_at: datetime | None,
) -> Case:
    """A call-back case for a team that is closed now (one open per conversation)."""
    from bot.services.cases import open_case

    existing = open_callback_case(session, conversation.id)
    if existing is not None:
        return existing
    team = department.name if department else "our contact centre"
    when = f" after {back_at:%A %d %B at %H:%M}" if back_at else ""
    case = open_case(
        session,
        citizen_id=conversation.citizen_id,
        category_key=CALLBACK_CATEGORY,
        description=f"Please call back {phone}{when}: asked for the {team} team outside "
        f"business hours ({conversation.channel.value}).",
        location=None,
        channel=conversation.channel,
        conversation_id=conversation.id,
    )
    if department is not None:
        case.department_id = department.id
    session.flush()
    return case
