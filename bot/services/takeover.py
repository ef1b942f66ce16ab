"""A person takes a conversation over from the bot, and hands it back.

While a conversation is `with_staff` the gateway passes none of its messages to the engine
(see `bot.gateway.pipeline`): the bot stays silent until it is handed back. The staff console
(next issue) calls these services; they only change state and record it in the transcript.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.models import AuthorKind, Conversation, ConversationState, HandoffRequest, utcnow
from bot.services.conversations import record_outbound

HANDED_BACK = "Thanks for waiting. You're back with the city's assistant – is there anything else?"


class TakeoverError(ValueError):
    """The conversation is not in a state that allows this."""


def take_over(session: Session, conversation: Conversation, *, actor: str) -> None:
    """A member of staff (`actor`, e.g. "staff:alice") now owns the conversation."""
    if conversation.state is ConversationState.CLOSED:
        raise TakeoverError("a closed conversation cannot be taken over")
    conversation.state = ConversationState.WITH_STAFF
    record_outbound(
        session, conversation, f"{actor} joined the conversation", author=AuthorKind.SYSTEM
    )


def hand_back(session: Session, conversation: Conversation, *, actor: str) -> str:
    """Give the conversation back to the bot; pending handoff requests are resolved.

    Returns the line to send the citizen (the console delivers it on their channel).
    """
    if conversation.state is not ConversationState.WITH_STAFF:
        raise TakeoverError("only a conversation a person owns can be handed back")
    conversation.state = ConversationState.BOT
    session.execute(
        update(HandoffRequest)
        .where(
            HandoffRequest.conversation_id == conversation.id, HandoffRequest.resolved_at.is_(None)
        )
        .values(resolved_at=utcnow())
    )
    record_outbound(
        session, conversation, f"{actor} handed the conversation back", author=AuthorKind.SYSTEM
    )
    record_outbound(session, conversation, HANDED_BACK)
    return HANDED_BACK
