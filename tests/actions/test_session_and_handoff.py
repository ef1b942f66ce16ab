"""Returning citizens are recognised; a person can be asked for; misunderstandings add up."""

from sqlalchemy import select

from actions.fallback import Fallback
from actions.handoff import RequestHuman
from actions.session import Greet, SessionStart
from bot.models import Channel, ConversationState, HandoffRequest
from bot.services import conversations
from bot.services.cases import open_case
from tests.actions.helpers import run, slot_events, tracker


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


async def test_request_for_a_person_is_recorded_once(crm):
    sender = crm.sender_for("h1")
    t = tracker(sender, "talk to a person", intent="request_human", slots={"category": "pothole"})
    _, first = await run(RequestHuman(), t)
    _, second = await run(RequestHuman(), t)
    with crm.session() as s:
        requests = list(s.scalars(select(HandoffRequest)))
        convo = conversations.by_sender(s, sender)
        assert len(requests) == 1 and requests[0].reason == "citizen_request"
        assert requests[0].department_id is not None
        assert convo is not None and convo.state is ConversationState.WAITING_FOR_STAFF
    assert "Public Works" in first[0]["text"]
    assert "already in the queue" in second[0]["text"]


def _misunderstood(text: str) -> dict:
    return {
        "event": "user",
        "text": text,
        "parse_data": {"intent": {"name": "nlu_fallback"}, "text": text},
    }


async def test_second_misunderstanding_in_a_row_offers_a_person(crm):
    sender = crm.sender_for("f1")
    _, once = await run(Fallback(), tracker(sender, "blorp", intent="nlu_fallback"))
    assert "another way" in once[0]["text"] and not once[0]["buttons"]
    twice = tracker(sender, "fnarg", intent="nlu_fallback", events=[_misunderstood("blorp")])
    _, messages = await run(Fallback(), twice)
    assert "/request_human" in [b["payload"] for b in messages[0]["buttons"]]


async def test_handoff_after_misunderstandings_says_why(crm):
    sender = crm.sender_for("f2")
    t = tracker(sender, "yes a person", intent="request_human", events=[_misunderstood("blorp")])
    await run(RequestHuman(), t)
    with crm.session() as s:
        assert s.scalar(select(HandoffRequest.reason)) == "not_understood"
