"""The report form: validation, the confirmation summary, and opening the case."""

from sqlalchemy import select

from actions.report import AskReportConfirmed, CancelForm, SubmitReport, ValidateReportForm
from bot.models import Case
from bot.references import display, is_valid
from tests.actions.helpers import DOMAIN, entity, run, slot_events, tracker

FORM_SLOTS = DOMAIN["forms"]["report_form"]["required_slots"]


async def test_category_is_understood_from_free_text(crm):
    sender = crm.sender_for("c1")
    t = tracker(
        sender,
        "there's a pot hole",
        active_loop="report_form",
        slots={"requested_slot": "category"},
        slot_candidates={"category": "there's a pot hole"},
    )
    events, messages = await run(ValidateReportForm(), t)
    assert slot_events(events)["category"] == "pothole"
    assert messages == []


async def test_misspelt_category_is_still_understood(crm):
    sender = crm.sender_for("c2")
    t = tracker(
        sender,
        "grafiti",
        active_loop="report_form",
        slots={"requested_slot": "category"},
        slot_candidates={"category": "grafiti"},
    )
    events, _ = await run(ValidateReportForm(), t)
    assert slot_events(events)["category"] == "graffiti"


async def test_unknown_category_is_refused_and_asked_again(crm):
    sender = crm.sender_for("c2b")
    text = "the moon is too bright tonight"
    t = tracker(
        sender,
        text,
        active_loop="report_form",
        slots={"requested_slot": "category"},
        slot_candidates={"category": text},
    )
    events, messages = await run(ValidateReportForm(), t)
    assert slot_events(events)["category"] is None
    assert (
        "don't know that kind of problem" in messages[0]["text"]
        or "Is it one of these?" in messages[0]["text"]
    )


async def test_no_location_is_asked_for_a_callback_request(crm):
    sender = crm.sender_for("c3")
    t = tracker(sender, slots={"category": "callback_request"}, active_loop="report_form")
    dispatcher_slots = await ValidateReportForm().required_slots(FORM_SLOTS, None, t, DOMAIN)  # type: ignore[arg-type]
    assert "location" not in dispatcher_slots
    t = tracker(sender, slots={"category": "pothole"}, active_loop="report_form")
    assert "location" in await ValidateReportForm().required_slots(FORM_SLOTS, None, t, DOMAIN)  # type: ignore[arg-type]


async def test_an_opening_message_that_describes_the_problem_is_the_description(crm):
    sender = crm.sender_for("c4")
    text = "there is a huge pothole outside 12 Elm Road"
    t = tracker(
        sender,
        text,
        intent="report_issue",
        active_loop="report_form",
        entities=[entity("category", "pothole")],
    )
    assert await ValidateReportForm().extract_description(None, t, DOMAIN) == {  # type: ignore[arg-type]
        "description": text
    }
    vague = tracker(
        sender, "i want to report a problem", intent="report_issue", active_loop="report_form"
    )
    assert await ValidateReportForm().extract_description(None, vague, DOMAIN) == {}  # type: ignore[arg-type]


async def test_too_short_location_is_reprompted(crm):
    sender = crm.sender_for("c5")
    t = tracker(
        sender,
        "x",
        active_loop="report_form",
        slots={"requested_slot": "location"},
        slot_candidates={"location": "x"},
    )
    events, messages = await run(ValidateReportForm(), t)
    assert slot_events(events)["location"] is None
    assert "street address" in messages[0]["text"]


async def test_summary_is_read_back_before_filing(crm):
    sender = crm.sender_for("c6")
    t = tracker(
        sender, slots={"category": "pothole", "description": "deep hole", "location": "Main St"}
    )
    _, messages = await run(AskReportConfirmed(), t)
    text = messages[0]["text"]
    assert "Pothole" in text and "deep hole" in text and "Main St" in text
    assert "Public Works" in text
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/affirm", "/deny"]


async def test_confirmed_report_opens_a_case_for_this_citizen(crm):
    sender = crm.sender_for("c7")
    t = tracker(
        sender,
        "yes",
        intent="affirm",
        slots={
            "category": "pothole",
            "description": "deep hole",
            "location": "Main St",
            "report_confirmed": True,
        },
    )
    events, messages = await run(SubmitReport(), t)
    with crm.session() as s:
        case = s.scalar(select(Case))
        assert case is not None and is_valid(case.reference)
        assert case.citizen_id == crm.citizen_of(sender)
        assert (case.category.key, case.location) == ("pothole", "Main St")
        ref = display(case.reference)
    assert ref in messages[0]["text"] and "Public Works" in messages[0]["text"]
    assert all(slot_events(events)[s] is None for s in FORM_SLOTS)


async def test_declined_report_opens_nothing(crm):
    sender = crm.sender_for("c8")
    t = tracker(
        sender,
        "no",
        intent="deny",
        slots={
            "category": "pothole",
            "description": "deep hole",
            "location": "Main St",
            "report_confirmed": False,
        },
    )
    _, messages = await run(SubmitReport(), t)
    with crm.session() as s:
        assert s.scalar(select(Case)) is None
    assert "not sent" in messages[0]["text"]


async def test_cancel_clears_the_form(crm):
    sender = crm.sender_for("c9")
    events, messages = await run(
        CancelForm(), tracker(sender, "stop", intent="cancel", slots={"category": "pothole"})
    )
    assert slot_events(events)["category"] is None
    assert "nothing was sent" in messages[0]["text"]
