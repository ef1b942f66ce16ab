"""Read models for the console: the queue snapshot (page, JSON and SSE share it), a citizen's
whole transcript with delivery status, and the lists on the queue page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.console.web import PREFIX, PRIORITY_LABELS, channel_label
from bot.models import (
    AuthorKind,
    Conversation,
    ConversationState,
    HandoffRequest,
    Message,
    Notification,
    StaffUser,
    utcnow,
)
from bot.services import queue
from bot.services.delivery import delivery_status

#: A bot conversation counts as live when the citizen or bot spoke this recently.
LIVE_WINDOW = timedelta(minutes=30)
#: How much of a citizen's history the conversation page shows.
TRANSCRIPT_LIMIT = 500


def citizen_label(name: str | None, citizen_id: int, phone: str | None = None) -> str:
    """How staff see a citizen: their name, else their phone number, else a number."""
    return name or phone or f"Citizen #{citizen_id}"


def queue_rows(
    session: Session, department_id: int | None, *, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The waiting conversations as plain data, in queue order (priority, then oldest)."""
    now = now or utcnow()
    rows = []
    for entry in queue.waiting(session, department_id, now=now):
        request, conversation = entry.request, entry.conversation
        rows.append(
            {
                "request_id": request.id,
                "conversation_id": conversation.id,
                "citizen": citizen_label(entry.citizen.name, entry.citizen.id, entry.citizen.phone),
                "channel": channel_label(conversation.channel),
                "department": entry.department.name if entry.department else "–",
                "position": entry.position,
                "priority": PRIORITY_LABELS.get(request.priority, str(request.priority)),
                "reason": request.reason.replace("_", " "),
                "requested_at": request.requested_at.isoformat(),
                "waiting_seconds": int(entry.waiting_for.total_seconds()),
                "url": f"{PREFIX}/conversations/{conversation.id}",
            }
        )
    return rows


def snapshot_key(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """What makes the queue different for a viewer (wait times tick in the browser)."""
    return [
        (r["request_id"], r["department"], r["position"], r["priority"], r["channel"]) for r in rows
    ]


def my_conversations(session: Session, user: StaffUser) -> list[HandoffRequest]:
    """Open handoffs this member of staff has claimed and is talking in."""
    return list(
        session.scalars(
            select(HandoffRequest)
            .join(Conversation, HandoffRequest.conversation_id == Conversation.id)
            .where(
                HandoffRequest.claimed_by_id == user.id,
                HandoffRequest.resolved_at.is_(None),
                Conversation.state == ConversationState.WITH_STAFF,
            )
            .order_by(HandoffRequest.claimed_at)
        )
    )


def live_bot_conversations(
    session: Session, *, now: datetime | None = None, limit: int = 50
) -> list[Conversation]:
    """Conversations the bot is handling with activity in the last half hour, newest first."""
    now = now or utcnow()
    return list(
        session.scalars(
            select(Conversation)
            .where(
                Conversation.state == ConversationState.BOT,
                Conversation.last_activity_at >= now - LIVE_WINDOW,
            )
            .order_by(Conversation.last_activity_at.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class Line:
    """One transcript line as the console shows it."""

    message: Message
    author: str
    delivery: Notification | None

    def as_json(self, local: str) -> dict[str, Any]:
        m = self.message
        return {
            "id": m.id,
            "conversation_id": m.conversation_id,
            "at": local,
            "channel": channel_label(m.channel),
            "author_kind": m.author_kind.value,
            "author": self.author,
            "text": m.text,
            "error": m.engine_error,
            "delivery": delivery_label(self.delivery),
        }


def delivery_label(notification: Notification | None) -> str | None:
    if notification is None:
        return None
    label = notification.status.value
    if notification.last_error and notification.status.value in ("failed", "suppressed"):
        label += f" ({notification.last_error})"
    return label


def _author(message: Message, citizen_name: str) -> str:
    if message.author_kind is AuthorKind.STAFF:
        return "Staff: " + str((message.payload or {}).get("staff_name") or "member of staff")
    return {
        AuthorKind.CITIZEN: citizen_name,
        AuthorKind.BOT: "Assistant",
        AuthorKind.SYSTEM: "System",
    }[message.author_kind]


def transcript(
    session: Session, citizen_id: int, citizen_name: str, *, after: int = 0
) -> list[Line]:
    """Every message of the citizen on every channel, oldest first (ids grow with time)."""
    messages = list(
        session.scalars(
            select(Message)
            .join(Conversation, Message.conversation_id == Conversation.id)
            .where(Conversation.citizen_id == citizen_id, Message.id > after)
            .order_by(Message.id.desc())
            .limit(TRANSCRIPT_LIMIT)
        )
    )
    messages.reverse()
    staff_ids = [m.id for m in messages if m.author_kind is AuthorKind.STAFF]
    status = delivery_status(session, staff_ids)
    return [Line(m, _author(m, citizen_name), status.get(m.id)) for m in messages]


def recent_delivery(session: Session, citizen_id: int, *, limit: int = 30) -> dict[int, str]:
    """Delivery status of the citizen's latest staff replies (the live page updates them)."""
    ids = list(
        session.scalars(
            select(Message.id)
            .join(Conversation, Message.conversation_id == Conversation.id)
            .where(Conversation.citizen_id == citizen_id, Message.author_kind == AuthorKind.STAFF)
            .order_by(Message.id.desc())
            .limit(limit)
        )
    )
    return {
        message_id: label
        for message_id, row in delivery_status(session, ids).items()
        if (label := delivery_label(row)) is not None
    }
