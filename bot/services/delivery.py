"""Saying something to a citizen outside the request/response of their own message: a staff
reply, a queue update, a rating question.

The line goes into the transcript first. On channels the city can write to on its own (SMS,
Telegram) it is also queued in the notification outbox in the same transaction, so a gateway
restart loses nothing; web chat picks it up from the transcript (`/webhooks/rest/updates`);
a phone call has been transferred, so the line is only kept for the record.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import (
    AuthorKind,
    ChannelIdentity,
    Conversation,
    Message,
    Notification,
    NotificationKind,
    NotificationStatus,
    utcnow,
)
from bot.services.conversations import record_outbound
from bot.services.notifications import PROACTIVE_CHANNELS

OPTED_OUT = "the citizen opted out on this channel"


def conversation_identity(session: Session, conversation: Conversation) -> ChannelIdentity | None:
    """The identity the citizen uses on the conversation's channel (latest seen)."""
    return session.scalar(
        select(ChannelIdentity)
        .where(
            ChannelIdentity.citizen_id == conversation.citizen_id,
            ChannelIdentity.channel == conversation.channel,
        )
        .order_by(ChannelIdentity.last_seen_at.desc(), ChannelIdentity.id.desc())
        .limit(1)
    )


def say(
    session: Session,
    conversation: Conversation,
    text: str,
    *,
    author: AuthorKind,
    buttons: list[dict[str, str]] | None = None,
    payload: dict[str, object] | None = None,
) -> Message:
    """Record `text` in the conversation and queue it for the citizen's channel."""
    body: dict[str, object] = dict(payload or {})
    if buttons:
        body["buttons"] = buttons
    message = record_outbound(session, conversation, text, author=author, payload=body or None)
    session.flush()
    if conversation.channel not in PROACTIVE_CHANNELS:
        return message
    identity = conversation_identity(session, conversation)
    if identity is None:  # pragma: no cover - a conversation always has its identity
        return message
    enqueue_line(session, identity, text, buttons=buttons, message_id=message.id)
    return message


def enqueue_line(
    session: Session,
    identity: ChannelIdentity,
    text: str,
    *,
    buttons: list[dict[str, str]] | None = None,
    message_id: int | None = None,
    case_id: int | None = None,
) -> Notification:
    """Queue one line for the outbox to send to `identity` (SUPPRESSED if it opted out)."""
    now = utcnow()
    suppressed = identity.opted_out_at is not None
    notification = Notification(
        citizen_id=identity.citizen_id,
        kind=NotificationKind.CONVERSATION,
        message_id=message_id,
        case_id=case_id,
        channel=identity.channel,
        recipient=identity.external_id,
        text=text,
        buttons=buttons or None,
        status=NotificationStatus.SUPPRESSED if suppressed else NotificationStatus.PENDING,
        last_error=OPTED_OUT if suppressed else None,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(notification)
    session.flush()
    return notification


def delivery_status(session: Session, message_ids: list[int]) -> dict[int, Notification]:
    """The outbox rows of these messages (for the console to show sent / failed / suppressed)."""
    if not message_ids:
        return {}
    rows = session.scalars(select(Notification).where(Notification.message_id.in_(message_ids)))
    return {row.message_id: row for row in rows if row.message_id is not None}
