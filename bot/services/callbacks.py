"""Call-back requests: a case asking staff to phone the citizen back."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot import references
from bot.models import AuthorKind, Channel
from bot.services import conversations
from bot.services.cases import open_case
from bot.services.citizens import resolve_identity
from bot.services.handoff import CALLBACK_CATEGORY, open_callback_case


def callback_case(session: Session, *, caller: str, reason: str, message_id: str) -> str:
    """The reference of the caller's call-back case for this conversation, opened if needed;
    the request and the answer go into the transcript."""
    identity = resolve_identity(session, Channel.VOICE, caller)
    conversation = conversations.current_conversation(session, identity.citizen_id, Channel.VOICE)
    conversations.record_inbound(
        session, conversation, f"(call-back: {reason})", provider_message_id=message_id
    )
    case = open_callback_case(session, conversation.id)
    if case is None:
        case = open_case(
            session,
            citizen_id=identity.citizen_id,
            category_key=CALLBACK_CATEGORY,
            description=f"Please call back {caller} ({reason} on a phone call).",
            location=None,
            channel=Channel.VOICE,
            conversation_id=conversation.id,
        )
        conversations.record_outbound(
            session,
            conversation,
            f"Call-back request {references.display(case.reference)} opened: a member of "
            "staff will call you back on this number.",
            author=AuthorKind.SYSTEM,
        )
    return case.reference
