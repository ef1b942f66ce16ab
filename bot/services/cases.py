"""Cases (service requests): opening, legal status changes, and look-ups for their owner."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import references
from bot.models import Case, CaseCategory, CaseEvent, CaseStatus, Channel, StaffUser, utcnow
from bot.services.notifications import enqueue_case_update

OPEN_STATUSES = (CaseStatus.NEW, CaseStatus.ACKNOWLEDGED, CaseStatus.IN_PROGRESS)

TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.NEW: frozenset({CaseStatus.ACKNOWLEDGED, CaseStatus.REJECTED}),
    CaseStatus.ACKNOWLEDGED: frozenset({CaseStatus.IN_PROGRESS, CaseStatus.REJECTED}),
    CaseStatus.IN_PROGRESS: frozenset({CaseStatus.RESOLVED, CaseStatus.REJECTED}),
    CaseStatus.RESOLVED: frozenset({CaseStatus.CLOSED, CaseStatus.IN_PROGRESS}),
    CaseStatus.CLOSED: frozenset(),
    CaseStatus.REJECTED: frozenset(),
}

STATUS_TEXT = {
    CaseStatus.NEW: "received, waiting to be reviewed",
    CaseStatus.ACKNOWLEDGED: "reviewed and accepted",
    CaseStatus.IN_PROGRESS: "being worked on",
    CaseStatus.RESOLVED: "resolved",
    CaseStatus.CLOSED: "closed",
    CaseStatus.REJECTED: "not taken forward",
}

MAX_DESCRIPTION = 2000


class CaseError(ValueError):
    """A request the rules refuse; the message is safe to show to the person who asked."""


def open_case(
    session: Session,
    *,
    citizen_id: int,
    category_key: str,
    description: str,
    location: str | None,
    channel: Channel,
    conversation_id: int | None = None,
    actor: str | None = None,
    now: datetime | None = None,
) -> Case:
    """Open a case with a fresh random reference and a due date from the category's SLA.

    `actor` is who opened it (default: the citizen, e.g. "staff:alice" from the console)."""
    category = session.scalar(select(CaseCategory).where(CaseCategory.key == category_key))
    if category is None:
        raise CaseError(f"unknown case category {category_key!r}")
    description = (description or "").strip()
    if not description:
        raise CaseError("a case needs a description")
    if len(description) > MAX_DESCRIPTION:
        raise CaseError(f"the description is longer than {MAX_DESCRIPTION} characters")
    location = (location or "").strip() or None
    if category.location_required and not location:
        raise CaseError(f"a {category.name.lower()} report needs a location")
    now = now or utcnow()
    for _ in range(10):
        case = Case(
            reference=references.new_reference(),
            category_id=category.id,
            department_id=category.department_id,
            citizen_id=citizen_id,
            conversation_id=conversation_id,
            channel=channel,
            description=description,
            location=location,
            priority=category.default_priority,
            status=CaseStatus.NEW,
            created_at=now,
            updated_at=now,
            due_at=now + timedelta(days=category.sla_days),
        )
        try:
            with session.begin_nested():
                session.add(case)
        except IntegrityError:  # reference collision: draw again
            continue
        session.add(
            CaseEvent(
                case=case,
                kind="created",
                to_status=CaseStatus.NEW,
                actor=actor or f"citizen:{citizen_id}",
                note="Case opened",
                created_at=now,
            )
        )
        session.flush()
        return case
    raise RuntimeError("could not draw a unique case reference")


def change_status(
    session: Session,
    case: Case,
    to_status: CaseStatus,
    *,
    actor: str,
    note: str = "",
    visible_to_citizen: bool = True,
    now: datetime | None = None,
) -> CaseEvent:
    """Move a case along its life cycle; illegal transitions raise CaseError.

    A change the citizen may see also queues their notification (`bot.services.notifications`)
    in the same transaction, so a change that is rolled back tells nobody.
    """
    if to_status not in TRANSITIONS[case.status]:
        raise CaseError(f"a case that is {case.status.value} cannot become {to_status.value}")
    now = now or utcnow()
    event = CaseEvent(
        case=case,
        kind="status_changed",
        from_status=case.status,
        to_status=to_status,
        note=note,
        actor=actor,
        visible_to_citizen=visible_to_citizen,
        created_at=now,
    )
    case.status = to_status
    case.updated_at = now
    session.add(event)
    session.flush()
    enqueue_case_update(session, case, event, now=now)
    if to_status is CaseStatus.RESOLVED and visible_to_citizen:
        from bot.services.feedback import ask_after_case

        ask_after_case(session, case)
    return event


def assign(session: Session, case: Case, assignee: StaffUser | None, *, actor: str) -> CaseEvent:
    """Give the case to a member of staff (or to nobody); recorded as an internal event."""
    if assignee is not None and not assignee.active:
        raise CaseError(f"{assignee.display_name} is no longer active")
    case.assignee_id = assignee.id if assignee else None
    case.updated_at = utcnow()
    event = CaseEvent(
        case=case,
        kind="assigned",
        note=f"assigned to {assignee.display_name}" if assignee else "unassigned",
        actor=actor,
        visible_to_citizen=False,
        created_at=case.updated_at,
    )
    session.add(event)
    session.flush()
    return event


def case_for_citizen(session: Session, citizen_id: int, reference: str) -> Case | None:
    """The case with this reference if it belongs to the citizen; None otherwise.

    Callers must answer "not found" and "not yours" the same way, so nobody can probe other
    people's references.
    """
    return session.scalar(
        select(Case).where(Case.reference == reference, Case.citizen_id == citizen_id)
    )


def open_cases(session: Session, citizen_id: int) -> list[Case]:
    return list(
        session.scalars(
            select(Case)
            .where(Case.citizen_id == citizen_id, Case.status.in_(OPEN_STATUSES))
            .order_by(Case.created_at.desc(), Case.id.desc())
        )
    )


def citizen_history(case: Case) -> list[CaseEvent]:
    return [event for event in case.events if event.visible_to_citizen]
