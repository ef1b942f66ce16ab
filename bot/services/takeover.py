"""What staff do with a conversation: claim it from the queue, take over a live bot
conversation, reply, write private notes, transfer it, resolve it or hand it back.

While a conversation is `with_staff` the gateway passes none of its messages to the engine
(see `bot.gateway.pipeline`): the bot stays silent until a person resolves it or hands it
back. Every line for the citizen goes through `bot.services.delivery.say` (transcript first,
then the outbox for SMS/Telegram), and every action is written to the audit log by the caller.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.models import (
    AuthorKind,
    Conversation,
    ConversationState,
    HandoffOutcome,
    HandoffRequest,
    StaffNote,
    StaffRole,
    StaffUser,
    utcnow,
)
from bot.services import feedback, queue
from bot.services.delivery import say
from bot.services.handoff import GENERAL_DEPARTMENT, department_by_key

HANDED_BACK = "Thanks for waiting. You're back with the city's assistant – is there anything else?"
RESOLVED = (
    "I'm glad we could help. You're back with the city's assistant if you need anything else."
)
MAX_REPLY = 1600  # one concatenated SMS


class TakeoverError(ValueError):
    """The conversation is not in a state that allows this; the message is safe to show."""


def _first_name(staff: StaffUser) -> str:
    return staff.display_name.split()[0] if staff.display_name.strip() else staff.username


def _department_name(request: HandoffRequest) -> str:
    return request.department.name if request.department else "our contact centre"


def claim(session: Session, conversation: Conversation, staff: StaffUser) -> HandoffRequest:
    """Take a waiting conversation from the queue. Someone else's claim is refused."""
    request = queue.open_request(session, conversation.id)
    if request is None:
        raise TakeoverError("this conversation is not waiting for staff")
    if request.claimed_by_id is not None:
        if request.claimed_by_id == staff.id:
            return request
        owner = request.claimed_by.display_name if request.claimed_by else "someone else"
        raise TakeoverError(f"{owner} has already claimed this conversation")
    request.claimed_at = utcnow()
    request.claimed_by_id = staff.id
    if conversation.state is not ConversationState.CLOSED:  # a call may have ended already
        conversation.state = ConversationState.WITH_STAFF
        say(
            session,
            conversation,
            f"{_first_name(staff)} from the {_department_name(request)} team has joined the "
            "conversation.",
            author=AuthorKind.SYSTEM,
        )
    session.flush()
    queue.announce_positions(session, request.department_id)
    return request


def take_over(session: Session, conversation: Conversation, staff: StaffUser) -> HandoffRequest:
    """Staff step into a live conversation on their own (it need not be in the queue)."""
    if conversation.state is ConversationState.CLOSED:
        raise TakeoverError("a closed conversation cannot be taken over")
    if queue.open_request(session, conversation.id) is None:
        general = department_by_key(session, GENERAL_DEPARTMENT)
        session.add(
            HandoffRequest(
                conversation_id=conversation.id,
                reason="staff_initiated",
                department_id=staff.department_id or (general.id if general else None),
                requested_at=utcnow(),
            )
        )
        session.flush()
    return claim(session, conversation, staff)


def _owned(session: Session, conversation: Conversation, staff: StaffUser) -> HandoffRequest:
    """The request this member of staff may act on (supervisors may act on anyone's)."""
    request = queue.open_request(session, conversation.id)
    if request is None or request.claimed_at is None:
        raise TakeoverError("claim the conversation first")
    if request.claimed_by_id != staff.id and staff.role is StaffRole.AGENT:
        raise TakeoverError("another member of staff owns this conversation")
    return request


def reply(session: Session, conversation: Conversation, staff: StaffUser, text: str) -> None:
    """Send the citizen a line on their own channel."""
    text = (text or "").strip()
    if not text:
        raise TakeoverError("the reply is empty")
    if len(text) > MAX_REPLY:
        raise TakeoverError(f"a reply can be at most {MAX_REPLY} characters")
    _owned(session, conversation, staff)
    if conversation.state is not ConversationState.WITH_STAFF:
        raise TakeoverError(
            "this conversation has ended; the citizen can no longer be reached in it"
        )
    say(
        session,
        conversation,
        text,
        author=AuthorKind.STAFF,
        payload={"staff_id": staff.id, "staff_name": staff.display_name},
    )


def add_note(
    session: Session, conversation: Conversation, staff: StaffUser, text: str
) -> StaffNote:
    text = (text or "").strip()
    if not text:
        raise TakeoverError("the note is empty")
    if len(text) > 4000:
        raise TakeoverError("a note can be at most 4000 characters")
    note = StaffNote(
        conversation_id=conversation.id, author_id=staff.id, text=text, created_at=utcnow()
    )
    session.add(note)
    session.flush()
    return note


def transfer(
    session: Session, conversation: Conversation, staff: StaffUser, department_key: str
) -> HandoffRequest:
    """Move the conversation to another department's queue, keeping its place in time."""
    department = department_by_key(session, department_key)
    if department is None:
        raise TakeoverError(f"unknown department {department_key!r}")
    request = queue.open_request(session, conversation.id)
    if request is None:
        raise TakeoverError("this conversation is not waiting for staff")
    if request.claimed_at is not None:
        request = _owned(session, conversation, staff)
    if request.department_id == department.id:
        raise TakeoverError(f"the conversation is already with the {department.name} team")
    old_department = request.department_id
    request.department_id = department.id
    request.claimed_at = None
    request.claimed_by_id = None
    request.notified_position = None
    if conversation.state is ConversationState.WITH_STAFF:
        conversation.state = ConversationState.WAITING_FOR_STAFF
    say(
        session,
        conversation,
        f"I've passed your conversation to the {department.name} team, who can help with this.",
        author=AuthorKind.SYSTEM,
    )
    session.flush()
    queue.announce_positions(session, old_department)
    queue.announce_positions(session, department.id)
    return request


def _finish(
    session: Session, conversation: Conversation, staff: StaffUser, outcome: HandoffOutcome
) -> HandoffRequest:
    request = queue.open_request(session, conversation.id)
    if request is None:
        raise TakeoverError("this conversation has no open handoff")
    if request.claimed_at is not None:
        _owned(session, conversation, staff)
    else:  # resolved straight from the queue (e.g. the citizen's problem went away)
        request.claimed_at = utcnow()
        request.claimed_by_id = staff.id
    request.resolved_at = utcnow()
    request.resolved_by_id = staff.id
    request.outcome = outcome
    if conversation.state in (ConversationState.WITH_STAFF, ConversationState.WAITING_FOR_STAFF):
        conversation.state = ConversationState.BOT
    session.flush()
    queue.announce_positions(session, request.department_id)
    return request


def resolve(session: Session, conversation: Conversation, staff: StaffUser) -> HandoffRequest:
    """The matter is settled: the bot takes over again and the citizen is asked for a rating."""
    request = _finish(session, conversation, staff, HandoffOutcome.RESOLVED)
    if conversation.state is not ConversationState.CLOSED:
        say(session, conversation, RESOLVED, author=AuthorKind.SYSTEM)
        feedback.ask_after_handoff(session, conversation, handoff_id=request.id, staff_id=staff.id)
    return request


def hand_back(session: Session, conversation: Conversation, staff: StaffUser) -> HandoffRequest:
    """Give the conversation back to the bot, which resumes with a short "anything else?"."""
    if conversation.state is not ConversationState.WITH_STAFF:
        raise TakeoverError("only a conversation a person owns can be handed back")
    request = _finish(session, conversation, staff, HandoffOutcome.HANDED_BACK)
    say(session, conversation, HANDED_BACK, author=AuthorKind.BOT)
    return request


def set_priority(session: Session, conversation: Conversation, priority: int) -> HandoffRequest:
    """Raise (or lower) a waiting conversation's place: 0 normal, 1 high, 2 urgent."""
    if priority not in (0, 1, 2):
        raise TakeoverError("priority is 0 (normal), 1 (high) or 2 (urgent)")
    request = queue.open_request(session, conversation.id)
    if request is None or request.claimed_at is not None:
        raise TakeoverError("only a waiting conversation can be reprioritised")
    request.priority = priority
    session.flush()
    queue.announce_positions(session, request.department_id)
    return request
