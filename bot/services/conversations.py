"""Conversations and their transcript, idempotent on the provider's message id."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.models import (
    AuthorKind,
    Channel,
    ChannelIdentity,
    Conversation,
    ConversationState,
    Direction,
    Message,
    utcnow,
)


def current_conversation(session: Session, citizen_id: int, channel: Channel) -> Conversation:
    """The citizen's open conversation on this channel, or a new one with a fresh sender id.

    The engine only ever sees the opaque `engine_sender_id`, never a channel's own user id, so a
    web client cannot claim to be somebody else's Telegram account.
    """
    conversation = session.scalar(
        select(Conversation)
        .where(
            Conversation.citizen_id == citizen_id,
            Conversation.channel == channel,
            Conversation.state != ConversationState.CLOSED,
        )
        .order_by(Conversation.id.desc())
        .limit(1)
    )
    if conversation is None:
        conversation = Conversation(
            citizen_id=citizen_id, channel=channel, engine_sender_id=uuid.uuid4().hex
        )
        session.add(conversation)
        session.flush()
    return conversation


def by_sender(session: Session, engine_sender_id: str) -> Conversation | None:
    return session.scalar(
        select(Conversation).where(Conversation.engine_sender_id == engine_sender_id)
    )


def conversation_count(session: Session, citizen_id: int) -> int:
    return (
        session.scalar(
            select(func.count(Conversation.id)).where(Conversation.citizen_id == citizen_id)
        )
        or 0
    )


def record_inbound(
    session: Session,
    conversation: Conversation,
    text: str,
    *,
    payload: dict[str, Any] | None = None,
    provider_message_id: str | None = None,
) -> tuple[Message, bool]:
    """Store a citizen's message. Returns (message, is_new); a redelivery returns the original."""
    if provider_message_id:
        existing = _by_provider_id(session, conversation.channel, provider_message_id)
        if existing is not None:
            return existing, False
    message = Message(
        conversation_id=conversation.id,
        channel=conversation.channel,
        direction=Direction.INBOUND,
        author_kind=AuthorKind.CITIZEN,
        text=text,
        payload=payload,
        provider_message_id=provider_message_id,
    )
    try:
        with session.begin_nested():
            session.add(message)
    except IntegrityError:  # a concurrent redelivery won the race
        existing = _by_provider_id(session, conversation.channel, provider_message_id or "")
        if existing is None:
            raise
        return existing, False
    conversation.last_activity_at = utcnow()
    return message, True


def record_outbound(
    session: Session,
    conversation: Conversation,
    text: str,
    *,
    author: AuthorKind = AuthorKind.BOT,
    payload: dict[str, Any] | None = None,
) -> Message:
    message = Message(
        conversation_id=conversation.id,
        channel=conversation.channel,
        direction=Direction.OUTBOUND,
        author_kind=author,
        text=text,
        payload=payload,
    )
    session.add(message)
    conversation.last_activity_at = utcnow()
    return message


def replies_to(session: Session, inbound: Message) -> list[Message]:
    """The outbound messages stored right after `inbound` (to answer a redelivery the same way)."""
    following = session.scalars(
        select(Message)
        .where(Message.conversation_id == inbound.conversation_id, Message.id > inbound.id)
        .order_by(Message.id)
    )
    replies = []
    for message in following:
        if message.direction is Direction.INBOUND:
            break
        replies.append(message)
    return replies


def _by_provider_id(session: Session, channel: Channel, provider_id: str) -> Message | None:
    return session.scalar(
        select(Message).where(
            Message.channel == channel, Message.provider_message_id == provider_id
        )
    )


def conversation_for_engine_sender(session: Session, engine_sender_id: str) -> Conversation:
    """The conversation behind an engine sender id.

    Messages normally reach the engine through the gateway, which creates the conversation
    first. A sender the CRM has never seen (someone talking to the engine directly, e.g. with
    `rasa shell`) gets its own citizen, so actions always have somebody to act for.
    """
    from bot.services.citizens import resolve_identity

    conversation = by_sender(session, engine_sender_id)
    if conversation is None:
        identity = resolve_identity(session, Channel.WEB, f"engine:{engine_sender_id}")
        conversation = Conversation(
            citizen_id=identity.citizen_id, channel=Channel.WEB, engine_sender_id=engine_sender_id
        )
        session.add(conversation)
        session.flush()
    return conversation


def last_choices(session: Session, conversation: Conversation) -> list[dict[str, str]]:
    """The buttons offered in the latest replies (since the citizen last wrote), in order."""
    latest_inbound = session.scalar(
        select(func.max(Message.id)).where(
            Message.conversation_id == conversation.id, Message.direction == Direction.INBOUND
        )
    )
    query = select(Message).where(
        Message.conversation_id == conversation.id, Message.direction == Direction.OUTBOUND
    )
    if latest_inbound is not None:
        query = query.where(Message.id > latest_inbound)
    choices: list[dict[str, str]] = []
    for message in session.scalars(query.order_by(Message.id)):
        choices.extend((message.payload or {}).get("buttons") or [])
    return choices


def close_current(session: Session, channel: Channel, external_id: str) -> bool:
    """Close the identity's open conversation on `channel` (e.g. a call ended). False if none."""
    identity = session.scalar(
        select(ChannelIdentity).where(
            ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id
        )
    )
    if identity is None:
        return False
    conversation = session.scalar(
        select(Conversation)
        .where(
            Conversation.citizen_id == identity.citizen_id,
            Conversation.channel == channel,
            Conversation.state != ConversationState.CLOSED,
        )
        .order_by(Conversation.id.desc())
        .limit(1)
    )
    if conversation is None:
        return False
    conversation.state = ConversationState.CLOSED
    conversation.closed_at = utcnow()
    return True
