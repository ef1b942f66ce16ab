"""The Twilio voice connector inside a real gateway: signed webhooks in, TwiML out (parsed with
xml.etree), with the engine unreachable or scripted; and the speech clean-up it relies on."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from bot import references
from bot.config import Settings
from bot.db import make_engine, make_sessionmaker
from bot.gateway import create_app
from bot.models import (
    Case,
    CaseCategory,
    Channel,
    ChannelIdentity,
    Conversation,
    ConversationState,
    Message,
)
from bot.services import callbacks
from connectors import twilio_voice as voice
from connectors.speech import choices_prompt, read_digits, spoken_digits, to_speech
from tests.connectors.test_twilio_sms import (
    CALLER,
    TWILIO_NUMBER,
    FakeEngine,
    TwilioWebhooks,
    count,
    stored,
    twilio_settings,
    twiml,
)

STAFF_LINE = "+15550109999"
CALL_SID = "CA" + "1" * 32


class Caller(TwilioWebhooks):
    """One phone call, as Twilio drives it: start, then follow each <Gather>'s action URL."""

    def __init__(self, webhooks: TwilioWebhooks, number: str = CALLER, sid: str = CALL_SID):
        super().__init__(webhooks.client, webhooks.base, webhooks.token)
        self.number = number
        self.sid = sid
        self.last: ET.Element | None = None

    def params(self, **extra: str) -> dict[str, str]:
        return {
            "AccountSid": "AC" + "0" * 32,
            "CallSid": self.sid,
            "From": self.number,
            "To": TWILIO_NUMBER,
            "Direction": "inbound",
            "CallStatus": "in-progress",
            **extra,
        }

    def _turn(self, url: str, **extra: str) -> ET.Element:
        self.last = twiml(self.post(url, self.params(**extra)))
        return self.last

    def start(self) -> ET.Element:
        return self._turn(voice.VOICE_PATH)

    def gather(self) -> ET.Element:
        assert self.last is not None
        gather = self.last.find("Gather")
        assert gather is not None, ET.tostring(self.last)
        return gather

    def says(self, speech: str) -> ET.Element:
        return self._turn(self.gather().get("action", ""), SpeechResult=speech, Confidence="0.9")

    def keys(self, digits: str) -> ET.Element:
        return self._turn(self.gather().get("action", ""), Digits=digits)

    def silent(self) -> ET.Element:
        return self._turn(self.gather().get("action", ""))

    def status(self, status: str) -> int:
        return self.post(voice.STATUS_PATH, self.params(CallStatus=status)).status_code


def spoken(root: ET.Element) -> str:
    """Everything <Say> reads in the document, in order."""
    return " ".join(say.text or "" for say in root.iter("Say"))


def gateway(database_url: str, settings: Settings) -> TestClient:
    return TestClient(create_app(settings, with_outbox=False))


@pytest.fixture
def engine() -> Iterator[FakeEngine]:
    with FakeEngine() as fake:
        yield fake


@pytest.fixture
def down(sqlite_url: str) -> Iterator[Caller]:
    """A call to a gateway whose engine is unreachable (with a line to staff)."""
    settings = twilio_settings(sqlite_url, voice_transfer_number=STAFF_LINE)
    with gateway(sqlite_url, settings) as client:
        yield Caller(TwilioWebhooks(client))


@pytest.fixture
def call(sqlite_url: str, engine: FakeEngine) -> Iterator[Caller]:
    """A call to a gateway in front of the scripted engine (with a line to staff)."""
    settings = twilio_settings(sqlite_url, engine.url, voice_transfer_number=STAFF_LINE)
    with gateway(sqlite_url, settings) as client:
        yield Caller(TwilioWebhooks(client))


@pytest.fixture
def no_staff_line(sqlite_url: str, engine: FakeEngine) -> Iterator[Caller]:
    settings = twilio_settings(sqlite_url, engine.url, voice_transfer_number="")
    with gateway(sqlite_url, settings) as client:
        yield Caller(TwilioWebhooks(client))


GREETING = [
    {
        "text": "Hello! I'm Civicline, the city's assistant. How can I help you today?",
        "buttons": [
            {"title": "Ask about a service", "payload": "/help"},
            {"title": "Report a problem", "payload": "/report_issue"},
        ],
    }
]


def script(text: str) -> list[dict[str, Any]]:
    if text == voice.GREETING_TURN:
        return GREETING
    if text in ("/request_human", "I want to talk to a person"):
        return [
            {"text": "I've passed your conversation to the Customer Service team."},
            {"custom": {"handoff": True}},
        ]
    return [{"text": f"you said {text}"}]


def callback_cases(database_url: str) -> list[Case]:
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            return list(
                session.scalars(
                    select(Case)
                    .join(CaseCategory, Case.category_id == CaseCategory.id)
                    .where(CaseCategory.key == callbacks.CALLBACK_CATEGORY)
                )
            )
    finally:
        engine.dispose()


# -- the call starts ------------------------------------------------------------------------------
def test_a_call_starts_with_the_engines_greeting_inside_a_gather(call, engine):
    engine.script = script
    root = call.start()
    assert engine.texts == [voice.GREETING_TURN]
    gather = call.gather()
    assert gather.get("input") == "speech dtmf"
    assert gather.get("language") == "en-US"
    assert gather.get("speechTimeout") == "auto"
    assert gather.get("finishOnKey") == "#"
    assert gather.get("actionOnEmptyResult") == "true"
    assert int(gather.get("timeout", "0")) > 0
    assert gather.get("action", "").startswith(f"https://civic.example{voice.GATHER_PATH}?")
    text = spoken(root)
    assert "How can I help you today?" in text
    assert "Say Ask about a service or press 1; say Report a problem or press 2." in text
    assert "press 0" in text


def test_speech_hints_come_from_the_catalogue_within_twilios_limits(call, engine):
    call.start()
    hints = [h.strip() for h in call.gather().get("hints", "").split(",")]
    assert {"Pothole", "Passport application", "call me back"} <= set(hints)
    assert "driving licence" in hints  # a service synonym
    assert len(hints) <= voice.MAX_HINTS and all(0 < len(h) <= 100 for h in hints)


def test_the_engine_down_gives_an_apology_in_valid_twiml(down, sqlite_url):
    root = down.start()
    assert "technical trouble" in spoken(root)
    assert "call me back" in spoken(root)  # a call-back is offered instead
    assert down.gather() is not None
    (inbound,) = stored(sqlite_url, Message, Message.text == voice.GREETING_TURN)
    assert inbound.channel is Channel.VOICE and inbound.engine_error


def test_a_forged_call_is_refused_and_nothing_is_stored(down, sqlite_url):
    params = down.params()
    response = down.client.post(
        voice.VOICE_PATH, data=params, headers={"X-Twilio-Signature": "Zm9yZ2Vk"}
    )
    assert response.status_code == 403
    unsigned = down.client.post(voice.GATHER_PATH, data={**params, "Digits": "0"})
    assert unsigned.status_code == 403
    assert count(sqlite_url, Message) == 0 and count(sqlite_url, ChannelIdentity) == 0


def test_a_withheld_number_is_told_politely(call, engine):
    call.number = "anonymous"
    root = call.start()
    assert root.find("Hangup") is not None and "number is shown" in spoken(root)
    assert engine.received == []


def test_an_error_inside_a_route_still_answers_with_twiml(call, caplog):
    async def broken(inbound: object) -> object:
        raise RuntimeError("boom")

    call.client.app.state.pipeline.handle = broken
    root = call.start()
    assert "technical trouble" in spoken(root)
    assert root.find("Hangup") is not None
    assert "boom" in caplog.text


def test_a_redelivered_turn_is_answered_again_without_a_second_effect(call, engine, sqlite_url):
    engine.script = script
    call.start()
    action = call.gather().get("action", "")
    first = call.says("how much is a passport")
    again = call._turn(action, SpeechResult="how much is a passport")
    assert spoken(first) == spoken(again)
    assert engine.texts.count("how much is a passport") == 1


# -- what the caller says or keys -----------------------------------------------------------------
def test_spoken_digits_reach_the_engine_as_a_number(call, engine):
    call.start()
    call.says("Status of one two three four five six seven eight.")
    assert engine.texts[-1] == "Status of 12345678."


def test_eight_keys_are_a_case_number(call, engine):
    call.start()
    call.keys("12345678")
    assert engine.texts[-1] == "status of case 12345678"


def test_a_key_answers_the_last_buttons(call, engine):
    engine.script = script
    call.start()
    root = call.keys("2")
    assert engine.texts[-1] == "/report_issue"
    assert "you said /report_issue" in spoken(root)
    call.keys("2")  # no buttons were offered this time: the digit is passed on
    assert engine.texts[-1] == "2"


def test_the_bots_text_is_made_speakable(call, engine):
    engine.script = lambda text: [
        {
            "text": "Here is your report:\n• **Problem**: Pothole 🚧\n• Case 1234-5678\n"
            "More at https://riverton.example.gov/roads."
        }
    ]
    root = call.start()
    text = spoken(root)
    assert "Here is your report. Problem: Pothole. Case 1 2 3 4, 5 6 7 8." in text
    assert "our website" in text
    for raw in ("**", "•", "🚧", "http", "\n"):
        assert raw not in text


# -- silence --------------------------------------------------------------------------------------
def test_silence_is_reprompted_twice_then_a_goodbye(call, engine):
    call.start()
    first = call.silent()
    assert "didn't hear" in spoken(first) and "silence=1" in call.gather().get("action", "")
    second = call.silent()
    assert "call me back" in spoken(second) and "silence=2" in call.gather().get("action", "")
    third = call.silent()
    assert third.find("Gather") is None and third.find("Hangup") is not None
    assert "Goodbye" in spoken(third)
    assert engine.texts == [voice.GREETING_TURN]  # silence never reaches the engine


def test_speaking_again_resets_the_silence_count(call, engine):
    call.start()
    call.silent()
    call.says("hello?")
    assert "silence" not in call.gather().get("action", "")


@pytest.mark.parametrize("answer", ["key", "speech"])
def test_the_last_reprompt_offers_a_call_back(call, engine, sqlite_url, answer):
    call.start()
    call.silent()
    call.silent()
    root = call.keys("1") if answer == "key" else call.says("Yes, please call me back.")
    (case,) = callback_cases(sqlite_url)
    assert case.channel is Channel.VOICE
    assert read_digits(case.reference) in spoken(root)
    assert root.find("Hangup") is not None
    (identity,) = stored(sqlite_url, ChannelIdentity)
    assert case.citizen_id == identity.citizen_id


# -- a person -------------------------------------------------------------------------------------
def test_pressing_0_transfers_to_staff(call, engine):
    engine.script = script
    call.start()
    root = call.keys("0")
    assert engine.texts[-1] == "/request_human"  # the CRM records the handoff request
    dial = root.find("Dial")
    assert dial is not None and dial.text == STAFF_LINE
    assert "Connecting you to a member of staff" in spoken(root)
    assert dial.get("action", "").startswith(f"https://civic.example{voice.DIAL_PATH}")


def test_pressing_0_outside_hours_offers_a_call_back_instead_of_ringing_nobody(call, engine):
    closed = "The Customer Service team is closed now and back Monday at 07:00."
    engine.script = lambda text: (
        [{"text": closed, "buttons": [{"title": "Yes, call me back", "payload": "/affirm"}]}]
        if text == "/request_human"
        else script(text)
    )
    call.start()
    root = call.keys("0")
    assert root.find("Dial") is None
    assert closed in spoken(root) and root.find("Gather") is not None


def test_pressing_0_transfers_even_when_the_engine_is_down(down):
    down.start()
    root = down.keys("0")
    assert root.find("Dial") is not None and root.find("Dial").text == STAFF_LINE


def test_asking_for_a_person_transfers(call, engine):
    engine.script = script
    call.start()
    root = call.says("I want to talk to a person")
    assert root.find("Dial") is not None and root.find("Dial").text == STAFF_LINE
    assert "reply here" not in spoken(root)


def test_without_a_staff_line_a_call_back_is_booked(no_staff_line, engine, sqlite_url):
    engine.script = script
    no_staff_line.start()
    root = no_staff_line.says("I want to talk to a person")
    assert root.find("Dial") is None and root.find("Hangup") is not None
    (case,) = callback_cases(sqlite_url)
    assert "call you back" in spoken(root) and read_digits(case.reference) in spoken(root)


def test_an_unanswered_transfer_books_a_call_back_once(call, engine, sqlite_url):
    engine.script = script
    call.start()
    dial_url = call.keys("0").find("Dial").get("action", "")
    first = call._turn(dial_url, DialCallStatus="no-answer")
    again = call._turn(dial_url, DialCallStatus="no-answer")  # Twilio retries
    (case,) = callback_cases(sqlite_url)
    assert read_digits(case.reference) in spoken(first) == spoken(again)
    answered = call._turn(dial_url, DialCallStatus="completed")
    assert [child.tag for child in answered] == ["Hangup"]


# -- the call ends --------------------------------------------------------------------------------
def test_the_status_callback_closes_the_conversation(call, engine, sqlite_url):
    call.start()
    (conversation,) = stored(sqlite_url, Conversation)
    assert conversation.state is not ConversationState.CLOSED
    assert call.status("completed") == 204
    (conversation,) = stored(sqlite_url, Conversation)
    assert conversation.state is ConversationState.CLOSED and conversation.closed_at
    # The next call starts a fresh conversation (a fresh engine sender).
    Caller(call, sid="CA" + "2" * 32).start()
    assert len(stored(sqlite_url, Conversation)) == 2
    assert engine.received[0][0] != engine.received[1][0]


def test_a_ringing_status_leaves_the_conversation_open(call, sqlite_url):
    call.start()
    assert call.status("ringing") == 204
    (conversation,) = stored(sqlite_url, Conversation)
    assert conversation.state is not ConversationState.CLOSED


def test_a_forged_status_callback_is_refused(call, sqlite_url):
    call.start()
    params = call.params(CallStatus="completed")
    response = call.client.post(voice.STATUS_PATH, data=params)
    assert response.status_code == 403
    (conversation,) = stored(sqlite_url, Conversation)
    assert conversation.state is not ConversationState.CLOSED


def test_sms_and_calls_from_one_number_are_one_citizen(call, sqlite_url):
    call.start()
    call.post(
        "/webhooks/twilio/sms",
        {"MessageSid": "SM-same", "From": CALLER, "To": TWILIO_NUMBER, "Body": "hello"},
    )
    identities = stored(sqlite_url, ChannelIdentity)
    assert {i.channel for i in identities} == {Channel.SMS, Channel.VOICE}
    assert len({i.citizen_id for i in identities}) == 1


def test_the_channel_is_off_without_twilio_settings():
    settings = Settings(
        twilio_account_sid="", twilio_auth_token="x", public_base_url="", telegram_bot_token=""
    )
    channel, reason = voice.channel_from_settings(settings)
    assert channel is None and "PUBLIC_BASE_URL" in reason and "TWILIO_ACCOUNT_SID" in reason
    assert voice.CHANNEL_NAME == "Voice"


# -- speech clean-up ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "heard, meant",
    [
        ("status of one two three four five six seven eight", "status of 12345678"),
        ("case four oh one double five six seven eight nine", "case 401556789"),
        ("1 2 3 4 5 6 7 8 please", "12345678 please"),
        ("status for four one two three, five six seven eight.", "status for 41235678."),
        ("I want to talk to a person", "I want to talk to a person"),
        (
            "the pothole is at unit five 12 Main Street",
            "the pothole is at unit five 12 Main Street",
        ),
        ("one or two things", "one or two things"),
    ],
)
def test_spoken_digits(heard, meant):
    assert spoken_digits(heard) == meant


def test_spoken_digits_give_a_reference_the_engine_finds():
    ref = references.new_reference()
    words = " ".join(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"][int(d)]
        for d in ref
    )
    assert references.find_reference(spoken_digits(f"what's the status of {words}")) == ref


def test_to_speech():
    assert to_speech("Hello! 👋 How can I help?") == "Hello! How can I help?"
    assert to_speech("Fees:\n- $35\n- $20 for seniors") == "Fees. $35. $20 for seniors."
    assert to_speech("See [the form](https://x.example.gov/f) & apply") == "See the form and apply."
    assert to_speech("Email dmv@riverton.example.gov.") == "Email the address on our website."
    assert to_speech("Open 9:00–17:00 – Mon to Fri") == "Open 9:00 to 17:00, Mon to Fri."
    assert to_speech("Your case number is 12345678.") == "Your case number is 1 2 3 4, 5 6 7 8."


def test_choices_prompt():
    assert (
        choices_prompt(["Yes, send it", "No"]) == "Say Yes, send it or press 1; say No or press 2."
    )
    assert choices_prompt(["Check a case"], first=3) == "Say Check a case or press 3."
    assert choices_prompt([]) == ""
