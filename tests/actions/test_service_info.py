"""Service questions answer from the catalogue in the database."""

from actions.service_info import AnswerService
from tests.actions.helpers import entity, run, slot_events, tracker


async def test_the_aspect_asked_about_is_answered(crm):
    sender = crm.sender_for("s1")
    t = tracker(
        sender,
        "how much does a passport cost",
        intent="ask_service_info",
        entities=[entity("service", "passport"), entity("aspect", "fees")],
    )
    events, messages = await run(AnswerService(), t)
    assert "fees" in messages[0]["text"].lower() and "$" in messages[0]["text"]
    assert slot_events(events)["service"] == "passport"


async def test_follow_up_question_uses_the_service_discussed(crm):
    sender = crm.sender_for("s2")
    t = tracker(
        sender,
        "what documents do i need",
        intent="ask_service_info",
        entities=[entity("aspect", "documents")],
        slots={"service": "library_card"},
    )
    _, messages = await run(AnswerService(), t)
    assert messages[0]["text"].startswith("For Library card you need")


async def test_without_an_aspect_a_summary_offers_more(crm):
    sender = crm.sender_for("s3")
    t = tracker(
        sender,
        "tell me about voter registration",
        intent="ask_service_info",
        entities=[entity("service", "voter_registration")],
    )
    _, messages = await run(AnswerService(), t)
    titles = [b["title"] for b in messages[0]["buttons"]]
    assert "Fees" in titles and "Documents" in titles


async def test_unknown_service_gets_closest_matches(crm):
    sender = crm.sender_for("s4")
    t = tracker(
        sender,
        "parking permt",
        intent="ask_service_info",
        entities=[entity("service", "parking permt")],
    )
    _, messages = await run(AnswerService(), t)
    payloads = " ".join(b["payload"] for b in messages[0].get("buttons") or [])
    assert "residential_parking_permit" in payloads or "Parking" in messages[0]["text"]


async def test_nonsense_service_is_not_guessed(crm):
    sender = crm.sender_for("s5")
    t = tracker(sender, "zzzz qqqq", intent="ask_service_info")
    events, messages = await run(AnswerService(), t)
    assert "couldn't find" in messages[0]["text"] or "not sure" in messages[0]["text"]
    assert "service" not in slot_events(events)


async def test_open_now_answers_with_the_offices_hours(crm):
    sender = crm.sender_for("s6")
    t = tracker(
        sender,
        "is city hall open now",
        intent="ask_service_info",
        entities=[entity("service", "city_hall_hours"), entity("aspect", "hours")],
    )
    _, messages = await run(AnswerService(), t)
    text = messages[0]["text"]
    assert "City Hall" in text and ("open now" in text or "closed now" in text)


async def test_places_mentioned_in_a_question_do_not_leak_into_a_later_report(crm):
    sender = crm.sender_for("s7")
    question = tracker(
        sender,
        "is the library on Main Street open",
        intent="ask_service_info",
        entities=[entity("service", "library_card"), entity("location", "Main St")],
        slots={"location": "Main Street"},
    )
    events, _ = await run(AnswerService(), question)
    assert slot_events(events)["location"] is None
    mid_report = tracker(
        sender,
        "how much is a library card",
        intent="ask_service_info",
        entities=[entity("service", "library_card")],
        slots={"location": "12 Elm Road", "category": "pothole"},
        active_loop="report_form",
    )
    events, _ = await run(AnswerService(), mid_report)
    assert "location" not in slot_events(events) and "category" not in slot_events(events)
