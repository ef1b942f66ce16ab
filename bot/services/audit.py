"""The audit log: every sign-in, view of a citizen record, reply, case change and handoff
action, with who, when and from where. Rows are append-only (see `bot.models`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import AuditEntry, StaffUser, utcnow


def record(
    session: Session,
    actor: StaffUser | None,
    action: str,
    *,
    target: str | None = None,
    detail: str = "",
    ip: str | None = None,
    actor_name: str | None = None,
) -> AuditEntry:
    """Add one entry in the caller's transaction (so a rolled-back action leaves none)."""
    entry = AuditEntry(
        at=utcnow(),
        actor_id=actor.id if actor else None,
        actor=(actor.username if actor else actor_name or "anonymous")[:100],
        action=action,
        target=target,
        detail=detail[:2000],
        ip=(ip or "")[:64] or None,
    )
    session.add(entry)
    return entry


def entries(
    session: Session,
    *,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    limit: int = 200,
    before_id: int | None = None,
) -> list[AuditEntry]:
    """Newest first, optionally filtered; page with `before_id`."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if action:
        query = query.where(AuditEntry.action == action)
    if target:
        query = query.where(AuditEntry.target == target)
    if before_id:
        query = query.where(AuditEntry.id < before_id)
    return list(session.scalars(query))
