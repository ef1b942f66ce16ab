"""Call-backs out of hours: a known phone is used at once; otherwise it is asked for, checked and
reprompted at most twice; a "no" is taken politely."""

from sqlalchemy import select

from actions.callback import DeclineCallback, SubmitCallback, ValidateCallbackForm
from bot import references
from bot.models import Case, Channel, HandoffRequest
from tests.actions.helpers import CLOSED, DOMAIN, run, slot_events, tracker

FORM_SLOTS = DOMAIN["forms"]["callback_form"]["required_slots"]
ASKED = {"requested_slot": "callback_phone", "callback_offered": True, "category": "pothole"}


async def required(t) -> list[str]:
    return await ValidateCallbackForm().required_slots(FORM_SLOTS, None, t, DOMAIN)


def answer(sender: str, text: str, attempts: float = 0.0, intent: str = "inform"):
    slots = {**ASKED, "callback_phone_attempts": attempts}
    return tracker(sender, text, intent=intent, slots=slots, active_loop="callback_form")


def callback_cases(crm) -> list[tuple[str, str, str]]:
    with crm.session() as s:
        return [
            (c.reference, c.department.key, c.description)
            for c in s.scalars(select(Case).order_by(Case.id))
        ]


async def test_a_known_phone_number_opens_the_call_back_at_once(crm, clock):
    clock(CLOSED)
    sender = crm.sender_for("+15550100777", channel=Channel.SMS)
    accepted = tracker(sender, "yes", intent="affirm", slots={**ASKED, "requested_slot": None})
    assert await required(accepted) == []  # nothing to ask
    events, messages = await run(SubmitCallback(), accepted)
    [(ref, department, description)] = callback_cases(crm)
    assert department == "public_works"
    assert "+15550100777" in description and "Monday" in description
    text = messages[0]["text"]
    assert references.display(ref) in text
    assert "The Public Works team will call you on +1 555-010-0777" in text
    assert "once they're back Monday at 08:00" in text
    assert slot_events(events)["callback_offered"] is None
    with crm.session() as s:
        assert s.scalar(select(HandoffRequest)) is None  # a call-back, not the queue
    _, again = await run(SubmitCallback(), accepted)  # one call-back per conversation
    assert len(callback_cases(crm)) == 1 and references.display(ref) in again[0]["text"]


async def test_without_a_phone_it_is_asked_for_checked_and_used(crm, clock):
    clock(CLOSED)
    sender = crm.sender_for("web-callback")
    assert await required(tracker(sender, "yes", intent="affirm", slots=ASKED)) == FORM_SLOTS

    events, messages = await run(ValidateCallbackForm(), answer(sender, "it's 555 0100"))
    assert slot_events(events) == {"callback_phone": None, "callback_phone_attempts": 1.0}
    assert "doesn't look like a phone number" in messages[0]["text"]

    good = answer(sender, "you can call me on (555) 010-0123 thanks", attempts=1.0)
    events, messages = await run(ValidateCallbackForm(), good)
    assert slot_events(events)["callback_phone"] == "+15550100123"
    assert slot_events(events)["callback_phone_attempts"] == 0.0
    assert not messages

    filled = tracker(sender, "", slots={**ASKED, "callback_phone": "+15550100123"})
    _, messages = await run(SubmitCallback(), filled)
    [(ref, department, description)] = callback_cases(crm)
    assert department == "public_works" and "+15550100123" in description
    assert references.display(ref) in messages[0]["text"]


async def test_a_number_is_taken_whatever_the_message_was_understood_as(crm):
    sender = crm.sender_for("web-callback-2")
    t = answer(sender, "555 010 0123", intent="check_case_status")
    events, _ = await run(ValidateCallbackForm(), t)
    assert slot_events(events)["callback_phone"] == "+15550100123"


async def test_an_interruption_is_not_taken_for_a_number(crm):
    sender = crm.sender_for("web-callback-3")
    events, messages = await run(ValidateCallbackForm(), answer(sender, "cancel", intent="cancel"))
    assert "callback_phone" not in slot_events(events) and not messages


async def test_two_reprompts_then_it_gives_up(crm):
    sender = crm.sender_for("web-callback-4")
    events, messages = await run(ValidateCallbackForm(), answer(sender, "no idea", attempts=2.0))
    assert slot_events(events)["callback_abandoned"] is True
    assert "haven't asked for a call-back" in messages[0]["text"]
    given_up = tracker(sender, slots={**ASKED, "callback_abandoned": True})
    assert await required(given_up) == []
    events, messages = await run(SubmitCallback(), given_up)
    assert callback_cases(crm) == [] and not messages
    assert slot_events(events)["callback_abandoned"] is None


async def test_declining_says_what_the_assistant_can_still_do(crm):
    sender = crm.sender_for("web-callback-5")
    events, messages = await run(DeclineCallback(), tracker(sender, "no thanks", intent="deny"))
    assert "haven't asked for a call-back" in messages[0]["text"]
    assert "report of a problem" in messages[0]["text"]
    assert slot_events(events)["callback_offered"] is None
    assert callback_cases(crm) == []
