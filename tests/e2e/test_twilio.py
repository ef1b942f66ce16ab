"""SMS and phone calls end to end: signed Twilio webhooks into the real gateway, engine and action
server; answers asserted on the TwiML they return (parsed with xml.etree)."""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Iterator
from xml.etree.ElementTree import Element

import httpx
import pytest
from sqlalchemy import select

from bot.db import make_engine, make_sessionmaker
from bot.models import Case, ChannelIdentity
from connectors import twilio_sms
from connectors.speech import read_digits
from tests.connectors.test_twilio_sms import TwilioWebhooks, sms_bodies
from tests.connectors.test_twilio_voice import Caller, spoken
from tests.e2e.conftest import TRANSFER_NUMBER

REF = re.compile(r"\b(\d{4})-(\d{4})\b")
WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_numbers = itertools.count(1)


def a_phone_number() -> str:
    return f"+1555{secrets.randbelow(900) + 100}{next(_numbers):04d}"


@pytest.fixture
def twilio(stack) -> Iterator[TwilioWebhooks]:
    env = stack.config.extra_env
    with httpx.Client(base_url=stack.config.gateway_url, timeout=60) as client:
        yield TwilioWebhooks(client, env["PUBLIC_BASE_URL"].rstrip("/"), env["TWILIO_AUTH_TOKEN"])


class Texter:
    """A phone texting the city's number."""

    def __init__(self, twilio: TwilioWebhooks, number: str) -> None:
        self.twilio = twilio
        self.number = number

    def texts(self, body: str, sid: str | None = None) -> str:
        response = self.twilio.sms(body, sender=self.number, sid=sid)
        return "\n\n".join(sms_bodies(response))


def report_pothole(texter: Texter) -> str:
    """Report a pothole by SMS, confirming with the numbered choice; the case reference."""
    summary = texter.texts("report a pothole on main street")
    assert "Pothole" in summary and "Reply 1 for" in summary, summary
    filed = texter.texts("1")
    match = REF.search(filed)
    assert match, filed
    return match.group(1) + match.group(2)


def cases_of(stack, number: str) -> list[Case]:
    engine = make_engine(stack.config.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            identity = session.scalar(
                select(ChannelIdentity).where(ChannelIdentity.external_id == number)
            )
            if identity is None:
                return []
            return list(session.scalars(select(Case).where(Case.citizen_id == identity.citizen_id)))
    finally:
        engine.dispose()


def identities_of(stack, number: str) -> list[ChannelIdentity]:
    engine = make_engine(stack.config.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            query = select(ChannelIdentity).where(ChannelIdentity.external_id == number)
            return list(session.scalars(query))
    finally:
        engine.dispose()


def call_from(twilio: TwilioWebhooks, number: str) -> Caller:
    return Caller(twilio, number=number, sid="CA" + secrets.token_hex(16))


# -- SMS ------------------------------------------------------------------------------------------
def test_an_sms_report_is_filed_and_its_status_checked(stack, twilio):
    ana = Texter(twilio, a_phone_number())
    reference = report_pothole(ana)
    status = ana.texts(f"what's the status of {reference[:4]}-{reference[4:]}")
    assert "Pothole" in status and "received" in status
    (case,) = cases_of(stack, ana.number)
    assert case.reference == reference and case.channel.value == "sms"


def test_a_redelivered_sms_files_one_case_and_gets_the_same_reply(stack, twilio):
    ben = Texter(twilio, a_phone_number())
    ben.texts("report a pothole on main street")
    sid = "SM" + secrets.token_hex(16)
    first = ben.texts("yes please", sid=sid)
    again = ben.texts("yes please", sid=sid)
    assert first == again and REF.search(first), first
    assert len(cases_of(stack, ben.number)) == 1


def test_a_forged_sms_is_refused(stack, twilio):
    number = a_phone_number()
    params = {"MessageSid": "SM-forged", "From": number, "Body": "status of my case"}
    response = twilio.post(twilio_sms.SMS_PATH, params, signature="Zm9yZ2VkIQ==")
    assert response.status_code == 403
    assert identities_of(stack, number) == []


def test_stop_is_recorded_and_start_undoes_it(stack, twilio):
    cy = Texter(twilio, a_phone_number())
    assert "unsubscribed" in cy.texts("STOP")
    assert "subscribed again" in cy.texts("START")


# -- calls ----------------------------------------------------------------------------------------
def test_a_caller_checks_an_sms_case_by_speaking_its_number(stack, twilio):
    number = a_phone_number()
    reference = report_pothole(Texter(twilio, number))
    call = call_from(twilio, number)
    greeting = spoken(call.start())
    assert "1 open case" in greeting and read_digits(reference) in greeting
    words = " ".join(WORDS[int(d)] for d in reference)
    answer = spoken(call.says(f"status of {words}"))
    assert "Pothole" in answer and "received" in answer, answer
    assert read_digits(reference) in answer


def test_a_caller_checks_a_case_by_keying_its_number(stack, twilio):
    number = a_phone_number()
    reference = report_pothole(Texter(twilio, number))
    call = call_from(twilio, number)
    call.start()
    answer = spoken(call.keys(reference))
    assert "Pothole" in answer and "received" in answer, answer


def test_silence_is_reprompted_twice_then_the_call_ends(stack, twilio):
    call = call_from(twilio, a_phone_number())
    call.start()
    assert "didn't hear" in spoken(call.silent())
    assert "call me back" in spoken(call.silent())
    last: Element = call.silent()
    assert last.find("Hangup") is not None and last.find("Gather") is None


def test_asking_for_a_person_transfers_the_call(stack, twilio):
    call = call_from(twilio, a_phone_number())
    call.start()
    root = call.says("I want to talk to a person")
    dial = root.find("Dial")
    assert dial is not None and dial.text == TRANSFER_NUMBER, spoken(root)
    assert "Connecting you" in spoken(root)


def test_a_caller_whose_team_has_closed_gets_a_call_back(stack, twilio):
    """The stack's clock is pinned to a Wednesday 17:30: Vital Records has closed."""
    number = a_phone_number()
    call = call_from(twilio, number)
    call.start()
    call.says("how much is a birth certificate")
    offer = call.says("I want to talk to a person")
    assert offer.find("Dial") is None, spoken(offer)
    assert "closed now" in spoken(offer) and "Thursday" in spoken(offer)
    done = spoken(call.keys("1"))  # "Yes, call me back": the caller's number is known
    assert "call-back request" in done, done
    (case,) = cases_of(stack, number)
    assert case.description.startswith(f"Please call back {number}"), case.description


def test_a_forged_call_is_refused(stack, twilio):
    call = call_from(twilio, a_phone_number())
    response = twilio.post("/webhooks/twilio/voice", call.params(), signature="Zm9yZ2VkIQ==")
    assert response.status_code == 403
    assert identities_of(stack, call.number) == []
