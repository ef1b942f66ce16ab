"""Returning citizens are recognised; a person can be asked for (queued in business hours, a
call-back offered outside them); two misunderstandings in a row bring a person."""

from sqlalchemy import select

from actions.fallback import Fallback
from actions.handoff import RequestHuman
from actions.session import Greet, SessionStart
from bot.models import Channel, ConversationState, HandoffRequest
from bot.services import conversations, queue
from bot.services.cases import open_case
from tests.actions.helpers import CLOSED, run, slot_events, tracker

POTHOLE = {"category": "pothole"}


async def test_returning_citizen_is_greeted_with_their_open_cases(crm):
    sender = crm.sender_for("r1", name="Ana")
    with crm.session() as s:
        case = open_case(
            s,
            citizen_id=crm.citizen_of(sender),
            category_key="pothole",
            description="hole",
            location="Elm Rd",
            channel=Channel.WEB,
        )
        ref = case.reference
    events, _ = await run(SessionStart(), tracker(sender))
    assert events[0]["event"] == "session_started"
    assert slot_events(events) == {"citizen_name": "Ana", "open_case_count": 1.0}
    assert (events[-1]["event"], events[-1]["name"]) == ("action", "action_listen")
    _, messages = await run(Greet(), tracker(sender, "hi", intent="greet"))
    assert messages[0]["text"].startswith("Welcome back, Ana!")
    assert f"{ref[:4]}-{ref[4:]}" in messages[0]["text"]


async def test_new_citizen_gets_a_plain_hello(crm):
    _, messages = await run(Greet(), tracker(crm.sender_for("r2"), "hi", intent="greet"))
    assert messages[0]["text"].startswith("Hello!")


def _handoff_flag(messages: list[dict]) -> bool:
    return any((m.get("custom") or {}).get("handoff") for m in messages)


def _talk_to_a_person(sender: str, **kwargs) -> dict:
    return tracker(sender, "talk to a person", intent="request_human", **kwargs)


async def test_in_hours_citizens_are_queued_with_their_position_and_wait(crm):
    first, second = crm.sender_for("h1"), crm.sender_for("h2")
    events, to_first = await run(RequestHuman(), _talk_to_a_person(first, slots=POTHOLE))
    _, to_second = await run(RequestHuman(), _talk_to_a_person(second, slots=POTHOLE))
    with crm.session() as s:
        requests = list(s.scalars(select(HandoffRequest).order_by(HandoffRequest.id)))
        assert [r.reason for r in requests] == ["citizen_request"] * 2
        assert requests[0].department.key == "public_works"
        assert [r.notified_position for r in requests] == [1, 2]
        convo = conversations.by_sender(s, first)
        assert convo is not None and convo.state is ConversationState.WAITING_FOR_STAFF
    text = to_first[0]["text"]
    assert "the Public Works team" in text
    assert queue.position_text(1, 5) in text  # no history, nobody online: 5 minutes each
    assert "read our conversation so far" in text and "keep helping" in text
    assert queue.position_text(2, 10) in to_second[0]["text"]
    assert _handoff_flag(to_first) and _handoff_flag(to_second)
    assert events == [] and not to_first[0]["buttons"]


async def test_asking_again_gives_the_current_position(crm, clock):
    sender = crm.sender_for("h3")
    await run(RequestHuman(), _talk_to_a_person(sender))
    clock(CLOSED)  # still waiting after closing time: still in the queue, not a call-back
    _, again = await run(RequestHuman(), _talk_to_a_person(sender))
    with crm.session() as s:
        assert len(list(s.scalars(select(HandoffRequest)))) == 1
    assert "already in the queue for the Riverton 311 Customer Service team" in again[0]["text"]
    assert "You're next" in again[0]["text"]
    assert _handoff_flag(again)


async def test_out_of_hours_nothing_is_queued_and_a_call_back_is_offered(crm, clock):
    clock(CLOSED)
    sender = crm.sender_for("h4")
    events, messages = await run(RequestHuman(), _talk_to_a_person(sender, slots=POTHOLE))
    with crm.session() as s:
        assert s.scalar(select(HandoffRequest)) is None
        convo = conversations.by_sender(s, sender)
        assert convo is not None and convo.state is ConversationState.BOT
    text = messages[0]["text"]
    assert "The Public Works team is closed now and back Monday at 08:00." in text
    assert "call you back" in text
    assert [(b["title"], b["payload"]) for b in messages[0]["buttons"]] == [
        ("Yes, call me back", "/affirm"),
        ("No thanks", "/deny"),
    ]
    assert not _handoff_flag(messages)
    assert slot_events(events) == {"callback_offered": True}


async def test_out_of_hours_in_the_middle_of_a_form_nothing_is_offered(crm, clock):
    clock(CLOSED)
    sender = crm.sender_for("h5")
    t = _talk_to_a_person(sender, slots=POTHOLE, active_loop="report_form")
    events, messages = await run(RequestHuman(), t)
    assert "back Monday at 08:00" in messages[0]["text"] and not messages[0]["buttons"]
    assert events == [] and not _handoff_flag(messages)


def _misunderstood(text: str) -> dict:
    return {
        "event": "user",
        "text": text,
        "parse_data": {"intent": {"name": "nlu_fallback"}, "text": text},
    }


async def test_first_misunderstanding_asks_to_rephrase(crm):
    sender = crm.sender_for("f1")
    events, once = await run(Fallback(), tracker(sender, "blorp", intent="nlu_fallback"))
    assert "another way" in once[0]["text"] and not once[0]["buttons"]
    assert events == [] and not _handoff_flag(once)
    with crm.session() as s:
        assert s.scalar(select(HandoffRequest)) is None


async def test_second_misunderstanding_in_a_row_queues_for_a_person(crm):
    sender = crm.sender_for("f2")
    twice = tracker(sender, "fnarg", intent="nlu_fallback", events=[_misunderstood("blorp")])
    _, messages = await run(Fallback(), twice)
    with crm.session() as s:
        request = s.scalar(select(HandoffRequest))
        assert request is not None and request.reason == "not_understood"
        assert request.department.key == "customer_service"
    text = messages[0]["text"]
    assert text.startswith("Sorry, I still didn't understand that.")
    assert "I've passed your conversation" in text and "You're next" in text
    assert _handoff_flag(messages)


async def test_second_misunderstanding_out_of_hours_offers_a_call_back(crm, clock):
    clock(CLOSED)
    sender = crm.sender_for("f3")
    twice = tracker(sender, "fnarg", intent="nlu_fallback", events=[_misunderstood("blorp")])
    events, messages = await run(Fallback(), twice)
    assert "back Monday at 07:00" in messages[0]["text"]
    assert slot_events(events) == {"callback_offered": True}
    with crm.session() as s:
        assert s.scalar(select(HandoffRequest)) is None


async def test_a_person_asked_for_after_a_misunderstanding_says_why(crm):
    sender = crm.sender_for("f4")
    t = tracker(sender, "yes a person", intent="request_human", events=[_misunderstood("blorp")])
    _, messages = await run(RequestHuman(), t)
    with crm.session() as s:
        assert s.scalar(select(HandoffRequest.reason)) == "not_understood"
    assert not messages[0]["text"].startswith("Sorry")
