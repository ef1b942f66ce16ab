"""Checking a case: reprompts for mistyped numbers, and nothing about other people's cases."""

from actions.status import CaseStatus, ValidateCaseStatusForm
from bot.models import Channel
from bot.references import display, new_reference
from bot.services.cases import open_case
from tests.actions.helpers import DOMAIN, run, slot_events, tracker

FORM_SLOTS = DOMAIN["forms"]["case_status_form"]["required_slots"]


def make_case(crm, sender: str) -> str:
    with crm.session() as s:
        case = open_case(
            s,
            citizen_id=crm.citizen_of(sender),
            category_key="graffiti",
            description="tags on the wall",
            location="Oak Lane",
            channel=Channel.WEB,
        )
        return case.reference


def mistyped(ref: str) -> str:
    return ref[:-1] + str((int(ref[-1]) + 1) % 10)


async def test_own_case_is_described(crm):
    sender = crm.sender_for("owner")
    ref = make_case(crm, sender)
    _, messages = await run(CaseStatus(), tracker(sender, slots={"case_number": ref}))
    text = messages[0]["text"]
    assert display(ref) in text and "Graffiti" in text and "Oak Lane" in text
    assert "received" in text


async def test_someone_elses_case_reads_like_a_missing_one(crm):
    owner, stranger = crm.sender_for("owner"), crm.sender_for("stranger")
    ref = make_case(crm, owner)
    _, foreign = await run(CaseStatus(), tracker(stranger, slots={"case_number": ref}))
    missing_ref = new_reference()
    _, missing = await run(CaseStatus(), tracker(stranger, slots={"case_number": missing_ref}))
    assert "Oak Lane" not in foreign[0]["text"] and "Graffiti" not in foreign[0]["text"]
    assert foreign[0]["text"].replace(display(ref), "#") == missing[0]["text"].replace(
        display(missing_ref), "#"
    )


async def test_mistyped_number_is_reprompted_twice_then_given_up(crm):
    sender = crm.sender_for("typo")
    bad = mistyped(new_reference())
    slots = {"requested_slot": "case_number", "case_number_attempts": 0.0}
    for attempt in (1, 2):
        t = tracker(
            sender,
            display(bad),
            active_loop="case_status_form",
            slots=slots,
            slot_candidates={"case_number": display(bad)},
        )
        events, messages = await run(ValidateCaseStatusForm(), t)
        got = slot_events(events)
        assert got["case_number"] is None and got["case_number_attempts"] == attempt
        assert "mistyped" in messages[0]["text"]
        slots = {**slots, "case_number_attempts": float(attempt)}
    t = tracker(
        sender,
        display(bad),
        active_loop="case_status_form",
        slots=slots,
        slot_candidates={"case_number": display(bad)},
    )
    events, messages = await run(ValidateCaseStatusForm(), t)
    assert slot_events(events)["case_lookup_abandoned"] is True
    assert "talk to a person" in messages[0]["text"]
    assert (
        await ValidateCaseStatusForm().required_slots(
            FORM_SLOTS, None, tracker(sender, slots={"case_lookup_abandoned": True}), DOMAIN
        )
        == []
    )  # type: ignore[arg-type]


async def test_valid_number_with_spaces_is_accepted(crm):
    sender = crm.sender_for("spaces")
    ref = new_reference()
    spaced = f"{ref[:4]} {ref[4:]}"
    t = tracker(
        sender,
        f"it's {spaced}",
        active_loop="case_status_form",
        slots={"requested_slot": "case_number"},
        slot_candidates={"case_number": "it's"},
    )
    events, _ = await run(ValidateCaseStatusForm(), t)
    assert slot_events(events)["case_number"] == ref


async def test_without_a_number_open_cases_are_listed_instead_of_asking(crm):
    sender = crm.sender_for("lister")
    t = tracker(
        sender, "how are my cases", intent="check_case_status", active_loop="case_status_form"
    )
    assert await ValidateCaseStatusForm().required_slots(FORM_SLOTS, None, t, DOMAIN) == FORM_SLOTS  # type: ignore[arg-type]  # nothing open yet: ask for the number
    ref = make_case(crm, sender)
    assert await ValidateCaseStatusForm().required_slots(FORM_SLOTS, None, t, DOMAIN) == []  # type: ignore[arg-type]
    events, messages = await run(CaseStatus(), t)
    assert "1 open case" in messages[0]["text"] and display(ref) in messages[0]["text"]
    assert messages[0]["buttons"][0]["payload"].startswith("/check_case_status")
    assert slot_events(events)["case_number"] is None
