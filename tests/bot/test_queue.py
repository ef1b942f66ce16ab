"""The staff queue: ordering, positions and waits, claims, transfers, business hours, ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.models import (
    AuthorKind,
    Case,
    Channel,
    ConversationState,
    HandoffOutcome,
    Notification,
    NotificationStatus,
    Rating,
    StaffRole,
)
from bot.services import queue
from bot.services.citizens import resolve_identity
from bot.services.conversations import current_conversation
from bot.services.handoff import availability, request_callback, request_handoff
from bot.services.staff import create_user
from bot.services.takeover import (
    HANDED_BACK,
    TakeoverError,
    claim,
    hand_back,
    reply,
    resolve,
    set_priority,
    take_over,
    transfer,
)

CHICAGO = ZoneInfo("America/Chicago")
T0 = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # a Monday, 10:00 in Riverton


def conversation(session, who: str, channel: Channel = Channel.SMS):
    identity = resolve_identity(session, channel, who)
    return current_conversation(session, identity.citizen_id, channel)


def queued(session, who: str, minutes: int, **context):
    convo = conversation(session, who)
    request_handoff(
        session, convo, reason="citizen_request", now=T0 + timedelta(minutes=minutes), **context
    )
    return convo


def staff(session, name="alice", role=StaffRole.AGENT):
    return create_user(session, name, "correct horse battery", role=role, display_name=name.title())


def lines_to(session, convo):
    return [m.text for m in convo.messages if m.author_kind is not AuthorKind.CITIZEN]


def test_oldest_first_within_a_department_and_priority_goes_ahead(session):
    first = queued(session, "+15550100001", 0, category_key="pothole")
    second = queued(session, "+15550100002", 5, category_key="pothole")
    leak = queued(session, "+15550100003", 9, category_key="water_leak")  # high priority
    entries = queue.waiting(session)
    assert [e.conversation.id for e in entries] == [leak.id, first.id, second.id]
    assert [e.position for e in entries] == [1, 2, 3]
    assert {e.department.key for e in entries} == {"public_works"}
    assert entries[1].waiting_for > entries[2].waiting_for


def test_each_department_counts_its_own_positions(session):
    pothole = queued(session, "+15550100011", 0, category_key="pothole")
    general = queued(session, "+15550100012", 1)
    assert queue.position_of(session, queue.open_request(session, pothole.id)) == 1
    assert queue.position_of(session, queue.open_request(session, general.id)) == 1
    third = request_handoff(session, conversation(session, "+15550100013"), reason="x")
    assert third.position == 2
    assert third.team == "Riverton 311 Customer Service"


def test_asking_twice_keeps_one_place(session):
    convo = queued(session, "+15550100021", 0)
    again = request_handoff(session, convo, reason="citizen_request")
    assert again.already_waiting and again.position == 1
    assert len(queue.waiting(session)) == 1
    assert convo.state is ConversationState.WAITING_FOR_STAFF


def test_a_manual_priority_moves_a_citizen_ahead(session):
    first = queued(session, "+15550100031", 0)
    later = queued(session, "+15550100032", 5)
    set_priority(session, later, 2)
    assert [e.conversation.id for e in queue.waiting(session)] == [later.id, first.id]
    assert "Queue update: You're number 2" in lines_to(session, first)[-1]
    with pytest.raises(TakeoverError):
        set_priority(session, later, 7)


def test_a_claim_moves_the_queue_and_tells_those_behind(session):
    first = queued(session, "+15550100041", 0)
    second = queued(session, "+15550100042", 1)
    third = queued(session, "+15550100043", 2)
    alice = staff(session)
    claim(session, first, alice)
    assert first.state is ConversationState.WITH_STAFF
    assert (
        "Alice from the Riverton 311 Customer Service team has joined"
        in lines_to(session, first)[-1]
    )
    assert lines_to(session, second)[-1].startswith("Queue update: You're next")
    assert "number 2 in the queue" in lines_to(session, third)[-1]
    # SMS citizens get the update through the outbox
    pending = session.scalars(
        select(Notification).where(Notification.recipient == "+15550100042")
    ).all()
    assert [n.status for n in pending] == [NotificationStatus.PENDING]
    assert [e.conversation.id for e in queue.waiting(session)] == [second.id, third.id]


def test_someone_elses_claim_is_refused_but_a_supervisor_may_step_in(session):
    convo = queued(session, "+15550100051", 0)
    alice, bob = staff(session, "alice"), staff(session, "bob")
    claim(session, convo, alice)
    with pytest.raises(TakeoverError, match="Alice has already claimed"):
        claim(session, convo, bob)
    with pytest.raises(TakeoverError, match="another member of staff"):
        reply(session, convo, bob, "hello")
    boss = staff(session, "sam", StaffRole.SUPERVISOR)
    reply(session, convo, boss, "I'm covering for Alice.")
    assert lines_to(session, convo)[-1] == "I'm covering for Alice."


def test_replies_are_checked(session):
    convo = queued(session, "+15550100061", 0)
    alice = staff(session)
    with pytest.raises(TakeoverError, match="claim the conversation first"):
        reply(session, convo, alice, "hi")
    claim(session, convo, alice)
    with pytest.raises(TakeoverError, match="empty"):
        reply(session, convo, alice, "   ")
    with pytest.raises(TakeoverError, match="at most 1600"):
        reply(session, convo, alice, "x" * 1601)
    reply(session, convo, alice, "How can I help?")
    staff_line = convo.messages[-1]
    assert staff_line.author_kind is AuthorKind.STAFF
    assert staff_line.payload["staff_name"] == "Alice"


def test_a_transfer_keeps_the_citizens_place_in_time(session):
    newer_there = queued(session, "+15550100071", 10, category_key="pothole")
    moved = queued(session, "+15550100072", 0)  # asked earlier, at the general desk
    behind = queued(session, "+15550100073", 1)
    alice = staff(session)
    claim(session, moved, alice)
    transfer(session, moved, alice, "public_works")
    request = queue.open_request(session, moved.id)
    assert request.department.key == "public_works" and request.claimed_at is None
    assert moved.state is ConversationState.WAITING_FOR_STAFF
    assert queue.position_of(session, request) == 1  # ahead of the newer one there
    assert queue.position_of(session, queue.open_request(session, newer_there.id)) == 2
    assert any(
        "passed your conversation to the Public Works team" in t for t in lines_to(session, moved)
    )
    assert "Queue update: You're next" in lines_to(session, behind)[-1]
    with pytest.raises(TakeoverError, match="already with the Public Works"):
        transfer(session, moved, alice, "public_works")
    with pytest.raises(TakeoverError, match="unknown department"):
        transfer(session, moved, alice, "ministry_of_magic")


def test_resolving_returns_the_bot_and_asks_for_a_rating(session):
    convo = queued(session, "+15550100081", 0)
    alice = staff(session)
    claim(session, convo, alice)
    request = resolve(session, convo, alice)
    assert request.outcome is HandoffOutcome.RESOLVED and request.resolved_by_id == alice.id
    assert convo.state is ConversationState.BOT
    question = convo.messages[-1]
    assert "1 (poor) to 5 (excellent)" in question.text
    assert [b["payload"] for b in question.payload["buttons"]] == ["1", "2", "3", "4", "5"]
    rating = session.scalars(select(Rating)).one()
    assert rating.handoff_id == request.id and rating.staff_id == alice.id and rating.score is None
    assert queue.waiting(session) == []


def test_handing_back_says_anything_else(session):
    convo = queued(session, "+15550100091", 0)
    alice = staff(session)
    with pytest.raises(TakeoverError):
        hand_back(session, convo, alice)  # nobody owns it yet
    claim(session, convo, alice)
    request = hand_back(session, convo, alice)
    assert request.outcome is HandoffOutcome.HANDED_BACK
    assert convo.state is ConversationState.BOT
    assert lines_to(session, convo)[-1] == HANDED_BACK


def test_staff_can_take_over_a_live_bot_conversation(session):
    convo = conversation(session, "web-visitor-1", Channel.WEB)
    alice = staff(session)
    request = take_over(session, convo, alice)
    assert request.reason == "staff_initiated" and request.claimed_by_id == alice.id
    assert convo.state is ConversationState.WITH_STAFF
    # web chat reads its lines from the transcript: nothing goes to the outbox
    assert session.scalars(select(Notification)).all() == []


def test_estimated_wait_uses_recent_handle_times_and_staff_online(session):
    dept = queue.open_request(session, queued(session, "+15550100101", 0).id).department_id
    assert queue.estimated_wait_minutes(session, dept, 3) == 15  # 3 × the 5-minute default
    alice, bob = staff(session, "alice"), staff(session, "bob")
    for i, minutes in enumerate((8, 12)):
        convo = queued(session, f"+1555010011{i}", 1 + i)
        request = claim(session, convo, alice)
        request.claimed_at = T0
        request.resolved_at = T0 + timedelta(minutes=minutes)
        request.resolved_by_id = alice.id
    session.flush()
    now = datetime.now(UTC)
    alice.last_seen_at = bob.last_seen_at = now
    assert queue.estimated_wait_minutes(session, dept, 3, now=now) == 15  # 3 × 10 ÷ 2
    bob.last_seen_at = now - timedelta(hours=1)
    assert queue.estimated_wait_minutes(session, dept, 1, now=now) == 10


def test_business_hours_decide_whether_staff_can_come(session):
    monday_10am = T0
    sunday_noon = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)
    open_now = availability(session, tz=CHICAGO, category_key="pothole", now=monday_10am)
    assert open_now.open_now and open_now.team == "Public Works"
    closed = availability(session, tz=CHICAGO, now=sunday_noon)
    assert not closed.open_now
    assert closed.next_opening == datetime(2026, 11, 23, 7, 0, tzinfo=CHICAGO)


def test_a_callback_outside_hours_is_one_case_in_the_right_department(session):
    convo = conversation(session, "+15550100121")
    closed = availability(session, tz=CHICAGO, category_key="pothole", now=T0 - timedelta(hours=12))
    case = request_callback(
        session,
        convo,
        phone="+15550100121",
        department=closed.department,
        back_at=closed.next_opening,
    )
    assert case.department.key == "public_works"
    assert "+15550100121" in case.description and "Public Works" in case.description
    again = request_callback(
        session, convo, phone="+15550100121", department=closed.department, back_at=None
    )
    assert again.id == case.id
    assert session.scalars(select(Case).where(Case.conversation_id == convo.id)).all() == [case]
    assert queue.open_request(session, convo.id) is None  # not queued


def test_a_call_that_ended_can_still_be_claimed_and_resolved(session):
    call = conversation(session, "+15550100131", Channel.VOICE)
    request_handoff(session, call, reason="citizen_request")
    call.state = ConversationState.CLOSED  # the caller was transferred and hung up
    alice = staff(session)
    claim(session, call, alice)
    assert call.state is ConversationState.CLOSED
    resolve(session, call, alice)
    assert session.scalars(select(Rating)).all() == []  # nobody to ask on a finished call


def test_a_caller_still_on_the_line_is_not_asked_for_a_rating_nobody_hears(session):
    call = conversation(session, "+15550100141", Channel.VOICE)
    request_handoff(session, call, reason="citizen_request")
    alice = staff(session)
    claim(session, call, alice)
    resolve(session, call, alice)
    assert session.scalars(select(Rating)).all() == []
    assert call.state is ConversationState.BOT
