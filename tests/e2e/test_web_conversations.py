"""Whole conversations through the gateway's REST webhook, with the real engine and actions."""

import re
import uuid

import httpx

from bot.references import is_valid
from tests.e2e.conftest import Citizen

REF = re.compile(r"\b(\d{4})-(\d{4})\b")


def citizen(stack) -> Citizen:
    return Citizen(stack.config.gateway_url, f"web-{uuid.uuid4().hex[:8]}")


def test_all_three_processes_are_healthy(stack):
    health = httpx.get(f"{stack.config.gateway_url}/healthz", timeout=10).json()
    assert health == {
        "status": "ok",
        "checks": {"engine": True, "action_server": True, "database": True},
    }


def test_report_a_pothole_then_check_it_and_nobody_else_can(stack):
    ana = citizen(stack)
    assert "Hello" in ana.says("hi")
    summary = ana.says("there is a huge pothole on Main Street and 5th Avenue")
    assert "Pothole" in summary and "Main Street" in summary and "Public Works" in summary
    filed = ana.says("yes")
    match = REF.search(filed)
    assert match, filed
    reference = match.group(0)
    assert is_valid(match.group(1) + match.group(2))
    assert "Public Works" in filed and "expect an answer by" in filed

    status = ana.says(f"what's the status of {reference}")
    assert reference in status and "received" in status and "Main Street" in status

    # The same reference typed without the dash still works.
    assert "Pothole" in ana.says(f"check case {reference.replace('-', '')}")

    mallory = citizen(stack)
    foreign = mallory.says(f"what's the status of {reference}")
    assert "couldn't find a case of yours" in foreign
    assert "Main Street" not in foreign and "Pothole" not in foreign


def test_without_a_number_the_open_cases_are_listed(stack):
    ben = citizen(stack)
    ben.says("report graffiti on the wall of the library at 3 Oak Lane")
    reference = REF.search(ben.says("yes")).group(0)
    listing = ben.say("what's the status of my cases")
    assert "1 open case" in listing[0]["text"] and reference in listing[0]["text"]
    assert listing[0]["buttons"], "each case offers a details button"
    details = ben.says(listing[0]["buttons"][0]["payload"])
    assert "Graffiti" in details


def test_mistyped_number_is_reprompted_and_then_given_up(stack):
    cy = citizen(stack)
    first = cy.says("status of 1111-2222")
    assert "mistyped" in first
    assert "mistyped" in cy.says("1111 2223")
    gave_up = cy.says("11112225")
    assert "still can't read a valid case number" in gave_up
    assert "Hello" in cy.says("hello")  # and the conversation carries on normally


def test_a_question_mid_report_is_answered_and_the_report_resumes(stack):
    dee = citizen(stack)
    assert "What kind of problem" in dee.says("i want to report a problem")
    assert "describe" in dee.says("streetlight").lower()
    answer = dee.says("how much does a library card cost")
    assert "Library card" in answer and "describe" in answer.lower()
    assert "Where is it?" in dee.says("the lamp has been dark for a week")
    summary = dee.says("outside 42 Pine Avenue")
    assert "42 Pine Avenue" in summary and "Streetlight" in summary
    assert REF.search(dee.says("yes"))


def test_cancel_leaves_the_form_and_files_nothing(stack):
    eve = citizen(stack)
    eve.says("i want to report a problem")
    assert "nothing was sent" in eve.says("cancel")
    # Nothing was filed, so there is no case to list: the assistant asks for a number.
    assert "What is your case number?" in eve.says("what's the status of my cases")


def test_service_questions_are_answered_from_the_catalogue(stack):
    fay = citizen(stack)
    fees = fay.say("how much does a passport cost")
    assert "$" in fees[0]["text"]
    assert fees[0]["buttons"]
    hours = fay.says("is city hall open now")
    assert "City Hall" in hours and ("open now" in hours or "closed now" in hours)


def test_asking_for_a_person_is_acknowledged_honestly(stack):
    """The stack's clock is pinned to a Wednesday 17:30, when the 311 contact centre works."""
    gus = citizen(stack)
    reply = gus.say("i want to talk to a real person")
    text = "\n".join(r.get("text", "") for r in reply)
    assert "Riverton 311 Customer Service team" in text and "member of staff" in text
    assert "estimated wait" in text


def test_a_closed_team_offers_a_call_back_and_asks_for_a_number(stack):
    """At 17:30 the Vital Records Office has closed (it works 08:30–16:30)."""
    hal = citizen(stack)
    hal.says("how much is a birth certificate")
    (offer,) = hal.say("can i talk to a person")
    assert "Vital Records Office team is closed now and back Thursday at 08:30" in offer["text"]
    assert [b["payload"] for b in offer["buttons"]] == ["/affirm", "/deny"]
    assert "What number" in hal.says("/affirm")
    assert "doesn't look like a phone number" in hal.says("tomorrow")
    done = hal.says("555 010 0123")
    match = REF.search(done)
    assert match and is_valid(match.group(1) + match.group(2)), done
    assert "will call you on +1 555-010-0123 once they're back Thursday at 08:30" in done


def test_a_call_back_can_be_declined(stack):
    ida = citizen(stack)
    ida.says("how much is a birth certificate")
    assert "closed now" in ida.says("can i talk to a person")
    assert "haven't asked for a call-back" in ida.says("no thanks")
