"""Requests for a person to take over a conversation (the staff side comes with the console)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import hours
from bot.models import (
    CaseCategory,
    Conversation,
    ConversationState,
    Department,
    HandoffRequest,
    Service,
    utcnow,
)

GENERAL_DEPARTMENT = "customer_service"


@dataclass(frozen=True)
class HandoffOutcome:
    request: HandoffRequest
    department_name: str
    staff_available_now: bool
    next_opening: datetime | None
    already_waiting: bool


def _department_for(
    session: Session, service_key: str | None, category_key: str | None
) -> Department | None:
    """The department of the service or case category discussed, else the general one."""
    if service_key:
        service = session.scalar(select(Service).where(Service.key == service_key))
        if service:
            return service.department
    if category_key:
        category = session.scalar(select(CaseCategory).where(CaseCategory.key == category_key))
        if category:
            return category.department
    return session.scalar(select(Department).where(Department.key == GENERAL_DEPARTMENT))


def request_handoff(
    session: Session,
    conversation: Conversation,
    *,
    reason: str,
    tz: ZoneInfo,
    service_key: str | None = None,
    category_key: str | None = None,
    now: datetime | None = None,
) -> HandoffOutcome:
    """Queue the conversation for staff (once) and say when staff can pick it up."""
    now = now or utcnow()
    department = _department_for(session, service_key, category_key)
    pending = session.scalar(
        select(HandoffRequest).where(
            HandoffRequest.conversation_id == conversation.id,
            HandoffRequest.resolved_at.is_(None),
        )
    )
    already = pending is not None
    if pending is None:
        pending = HandoffRequest(
            conversation_id=conversation.id,
            reason=reason,
            department_id=department.id if department else None,
            requested_at=now,
        )
        session.add(pending)
    if conversation.state is ConversationState.BOT:
        conversation.state = ConversationState.WAITING_FOR_STAFF
    session.flush()
    weekly = department.business_hours if department else {}
    return HandoffOutcome(
        request=pending,
        department_name=department.name if department else "our contact centre",
        staff_available_now=bool(weekly) and hours.is_open(weekly, now, tz),
        next_opening=hours.next_opening(weekly, now, tz) if weekly else None,
        already_waiting=already,
    )
