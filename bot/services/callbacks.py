"""Call-back requests: a case asking staff to phone the citizen back."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import references
from bot.models import AuthorKind, Case, CaseCategory, Channel
from bot.services import conversations
from bot.services.cases import OPEN_STATUSES, open_case
from bot.services.citizens import resolve_identity
from bot.services.handoff import CALLBACK_CATEGORY


def callback_case(session: Session, *, caller: str, reason: str, message_id: str) -> str:
    """The reference of the caller's call-back case for this conversation, opened if needed;
    the request and the answer go into the transcript."""
    identity = resolve_identity(session, Channel.VOICE, caller)
    conversation = conversations.current_conversation(session, identity.citizen_id, Channel.VOICE)
    conversations.record_inbound(
        session, conversation, f"(call-back: {reason})", provider_message_id=message_id
    )
    case = session.scalar(
        select(Case)
        .join(CaseCategory, Case.category_id == CaseCategory.id)
        .where(
            Case.conversation_id == conversation.id,
            CaseCategory.key == CALLBACK_CATEGORY,
            Case.status.in_(OPEN_STATUSES),
        )
        .limit(1)
    )
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
