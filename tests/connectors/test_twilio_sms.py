"""The Twilio SMS connector inside a real gateway (`create_app`, migrated database): requests are
signed with the twilio SDK's RequestValidator, replies are TwiML parsed with xml.etree. The engine
is either unreachable (the pipeline's apology) or a scripted stand-in that records what it reads.

The helpers here (`TwilioWebhooks`, `twiml`) are shared with the voice tests.
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator

from bot.config import Settings
from bot.db import make_engine, make_sessionmaker
from bot.gateway import create_app
from bot.gateway.pipeline import APOLOGY
from bot.models import Channel, ChannelIdentity, Direction, Message
from bot.runner import free_port
from bot.services.channel_commands import REPLIES
from connectors import twilio_sms
from connectors.base import Command
from connectors.twilio_sms import MAX_BODY, channel_from_settings, split_text
from tests.fakes.engine import FakeEngine

TOKEN = "twilio-auth-token-for-tests"
BASE = "https://civic.example"
CALLER = "+15550100123"
TWILIO_NUMBER = "+15550100000"


def twilio_settings(database_url: str, rasa_url: str | None = None, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "public_base_url": BASE,
        "twilio_account_sid": "AC" + "0" * 32,
        "twilio_auth_token": TOKEN,
        "twilio_number": TWILIO_NUMBER,
        "telegram_bot_token": "",
        "rasa_url": rasa_url or f"http://127.0.0.1:{free_port()}",  # nobody listens: down
        "action_server_url": f"http://127.0.0.1:{free_port()}",
        "engine_timeout_seconds": 2.0,
    }
    values.update(extra)
    return Settings(**values)


def sign(url: str, params: dict[str, str], token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


_sids = itertools.count(1)


class TwilioWebhooks:
    """Posts what Twilio posts, signed the way Twilio signs it (full public URL + form)."""

    def __init__(self, client: TestClient | httpx.Client, base: str = BASE, token: str = TOKEN):
        self.client = client
        self.base = base
        self.token = token

    def post(
        self, path_or_url: str, params: dict[str, str], *, signature: str | None = None
    ) -> httpx.Response:
        url = path_or_url if path_or_url.startswith("http") else self.base + path_or_url
        headers = {"X-Twilio-Signature": signature or sign(url, params, self.token)}
        path = url.removeprefix(self.base)
        return self.client.post(path, data=params, headers=headers)

    def sms(
        self, body: str, *, sender: str = CALLER, sid: str | None = None, **extra: str
    ) -> httpx.Response:
        params = {
            "AccountSid": "AC" + "0" * 32,
            "MessageSid": sid or f"SM{next(_sids):032d}",
            "From": sender,
            "To": TWILIO_NUMBER,
            "Body": body,
            "NumMedia": "0",
            **extra,
        }
        return self.post(twilio_sms.SMS_PATH, params)


def twiml(response: httpx.Response) -> ET.Element:
    """The TwiML document of a webhook answer (which must be 200 text/xml)."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(response.text)
    assert root.tag == "Response"
    return root


def sms_bodies(response: httpx.Response) -> list[str]:
    return [m.text or "" for m in twiml(response).findall("Message")]


def stored(database_url: str, model: Any, *where: Any) -> list[Any]:
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            return list(session.scalars(select(model).where(*where).order_by(model.id)))
    finally:
        engine.dispose()


def count(database_url: str, model: Any) -> int:
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            return session.scalar(select(func.count()).select_from(model)) or 0
    finally:
        engine.dispose()


@pytest.fixture
def engine() -> Iterator[FakeEngine]:
    with FakeEngine() as fake:
        yield fake


@pytest.fixture
def down(sqlite_url: str) -> Iterator[TwilioWebhooks]:
    """A gateway whose engine is unreachable."""
    with TestClient(create_app(twilio_settings(sqlite_url), with_outbox=False)) as client:
        yield TwilioWebhooks(client)


@pytest.fixture
def twilio(sqlite_url: str, engine: FakeEngine) -> Iterator[TwilioWebhooks]:
    """A gateway in front of the scripted engine."""
    settings = twilio_settings(sqlite_url, engine.url)
    with TestClient(create_app(settings, with_outbox=False)) as client:
        yield TwilioWebhooks(client)


# -- signature ------------------------------------------------------------------------------------
def test_a_signed_sms_is_stored_and_answered_with_twiml(down, sqlite_url):
    response = down.sms("my bin was not emptied", sid="SM-first")
    assert sms_bodies(response) == [APOLOGY.text]  # the engine is down
    (inbound,) = stored(sqlite_url, Message, Message.direction == Direction.INBOUND)
    assert (inbound.channel, inbound.text) == (Channel.SMS, "my bin was not emptied")
    assert inbound.provider_message_id == "SM-first"
    (identity,) = stored(sqlite_url, ChannelIdentity)
    assert (identity.channel, identity.external_id) == (Channel.SMS, CALLER)


def test_the_sender_is_normalised_to_e164(down, sqlite_url):
    down.sms("hello", sender="+1 (555) 010-0123")
    (identity,) = stored(sqlite_url, ChannelIdentity)
    assert identity.external_id == CALLER


@pytest.mark.parametrize(
    "how",
    ["unsigned", "wrong token", "tampered body", "other url", "garbage signature"],
)
def test_forged_or_unsigned_requests_are_refused_and_nothing_is_stored(down, sqlite_url, how):
    params = {"MessageSid": "SM-forged", "From": CALLER, "To": TWILIO_NUMBER, "Body": "hi"}
    url = BASE + twilio_sms.SMS_PATH
    signature = {
        "unsigned": None,
        "wrong token": sign(url, params, "not-the-token"),
        "tampered body": sign(url, {**params, "Body": "something else"}),
        "other url": sign("https://evil.example" + twilio_sms.SMS_PATH, params),
        "garbage signature": "bm90IGEgc2lnbmF0dXJl",
    }[how]
    headers = {"X-Twilio-Signature": signature} if signature else {}
    response = down.client.post(twilio_sms.SMS_PATH, data=params, headers=headers)
    assert response.status_code == 403
    assert count(sqlite_url, Message) == 0
    assert count(sqlite_url, ChannelIdentity) == 0


def test_the_query_string_is_part_of_the_signed_url(down):
    params = {"MessageSid": "SM-q", "From": CALLER, "Body": "hi"}
    path = twilio_sms.SMS_PATH + "?site=riverton"
    assert down.post(path, params).status_code == 200
    # Signed without the query string: refused.
    forged = sign(BASE + twilio_sms.SMS_PATH, params)
    assert down.post(path, params, signature=forged).status_code == 403


def test_the_channel_is_off_without_twilio_settings():
    settings = Settings(
        twilio_account_sid="", twilio_auth_token="", public_base_url="", telegram_bot_token=""
    )
    channel, reason = channel_from_settings(settings)
    assert channel is None
    assert "TWILIO_ACCOUNT_SID" in reason and "TWILIO_AUTH_TOKEN" in reason
    assert "PUBLIC_BASE_URL" in reason
    assert twilio_sms.CHANNEL_NAME == "SMS"


# -- redelivery -----------------------------------------------------------------------------------
def test_twilio_retrying_a_message_sid_has_one_effect_and_the_same_reply(
    twilio, engine, sqlite_url
):
    engine.script = lambda text: [{"text": "Thanks, noted."}]
    first = sms_bodies(twilio.sms("pothole on main street", sid="SM-retry"))
    again = sms_bodies(twilio.sms("pothole on main street", sid="SM-retry"))
    assert first == again == ["Thanks, noted."]
    assert engine.texts == ["pothole on main street"]
    inbound = stored(sqlite_url, Message, Message.direction == Direction.INBOUND)
    assert len(inbound) == 1


def test_a_retry_while_the_engine_is_down_gets_the_same_apology(down, sqlite_url):
    assert sms_bodies(down.sms("hello?", sid="SM-x")) == sms_bodies(down.sms("hello?", sid="SM-x"))
    assert len(stored(sqlite_url, Message, Message.direction == Direction.INBOUND)) == 1


# -- keywords -------------------------------------------------------------------------------------
def _identity(database_url: str) -> ChannelIdentity:
    (identity,) = stored(database_url, ChannelIdentity, ChannelIdentity.channel == Channel.SMS)
    return identity


@pytest.mark.parametrize(
    "word", ["STOP", "stop", "Stop.", " STOPALL ", "unsubscribe", "Cancel", "END", "quit!"]
)
def test_opt_out_keywords_are_recorded_without_the_engine(twilio, engine, sqlite_url, word):
    assert sms_bodies(twilio.sms(word)) == [REPLIES[Command.STOP]]
    assert _identity(sqlite_url).opted_out_at is not None
    assert engine.received == []


@pytest.mark.parametrize("word", ["START", "yes", "Unstop"])
def test_opt_in_keywords_undo_the_opt_out(twilio, engine, sqlite_url, word):
    twilio.sms("STOP")
    assert _identity(sqlite_url).opted_out_at is not None
    assert sms_bodies(twilio.sms(word)) == [REPLIES[Command.START]]
    assert _identity(sqlite_url).opted_out_at is None
    assert engine.received == []


@pytest.mark.parametrize("word", ["HELP", "info"])
def test_help_keywords_are_answered_without_the_engine(twilio, engine, sqlite_url, word):
    assert sms_bodies(twilio.sms(word)) == [REPLIES[Command.HELP]]
    assert _identity(sqlite_url).opted_out_at is None
    assert engine.received == []


@pytest.mark.parametrize("text", ["stop please", "cancel my report", "I need help", "yes please"])
def test_keywords_count_only_as_the_whole_message(twilio, engine, sqlite_url, text):
    assert sms_bodies(twilio.sms(text)) == [f"you said: {text}"]
    assert engine.texts == [text]
    assert _identity(sqlite_url).opted_out_at is None


def test_keyword_list_is_twilios():
    assert {w for w, c in twilio_sms.KEYWORDS.items() if c is Command.STOP} == {
        "STOP",
        "STOPALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "REVOKE",
        "OPTOUT",
    }
    assert {w for w, c in twilio_sms.KEYWORDS.items() if c is Command.START} == {
        "START",
        "YES",
        "UNSTOP",
    }
    assert {w for w, c in twilio_sms.KEYWORDS.items() if c is Command.HELP} == {"HELP", "INFO"}


# -- numbered choices -----------------------------------------------------------------------------
GREETING = [
    {
        "text": "Hello! How can I help?",
        "buttons": [
            {"title": "Ask about a service", "payload": "/help"},
            {"title": "Report a problem", "payload": "/report_issue"},
        ],
    },
    {"text": "Or:", "buttons": [{"title": "Check a case", "payload": "/check_case_status"}]},
]


def test_buttons_become_numbered_choices_and_a_bare_number_picks_one(twilio, engine):
    engine.script = lambda text: GREETING if text == "hi" else [{"text": f"got {text}"}]
    (body,) = sms_bodies(twilio.sms("hi"))
    assert body == (
        "Hello! How can I help?\n\n"
        "Reply 1 for Ask about a service or 2 for Report a problem.\n\n"
        "Or:\n\nReply 3 for Check a case."
    )
    assert sms_bodies(twilio.sms("3")) == ["got /check_case_status"]
    # No choices are open any more: the number is passed on as text.
    assert sms_bodies(twilio.sms("2")) == ["got 2"]
    assert engine.texts == ["hi", "/check_case_status", "2"]


def test_a_number_beyond_the_choices_is_passed_on_as_text(twilio, engine):
    engine.script = lambda text: GREETING if text == "hi" else [{"text": f"got {text}"}]
    twilio.sms("hi")
    assert sms_bodies(twilio.sms("7")) == ["got 7"]


def test_titles_with_commas_are_quoted():
    line = twilio_sms.choices_line(["Yes, send it", "No, don't send"], 1)
    assert line == 'Reply 1 for "Yes, send it" or 2 for "No, don\'t send".'


# -- long and empty replies -----------------------------------------------------------------------
def test_long_replies_are_split_within_twilios_body_limit(twilio, engine):
    paragraphs = [f"Paragraph {i}: " + "All fine here. " * 40 for i in range(8)]
    engine.script = lambda text: [{"text": "\n\n".join(paragraphs)}]
    bodies = sms_bodies(twilio.sms("tell me everything"))
    assert len(bodies) >= 3
    assert all(len(b) <= MAX_BODY for b in bodies)
    assert all(b.startswith("Paragraph") for b in bodies)  # cut at paragraph boundaries
    assert " ".join(" ".join(bodies).split()) == " ".join(" ".join(paragraphs).split())


def test_split_text_prefers_sentences_then_words_then_a_hard_cut():
    sentences = "One sentence here. " * 200
    pieces = split_text(sentences, 100)
    assert all(len(p) <= 100 and p.endswith(".") for p in pieces)
    assert split_text("x" * 250, 100) == ["x" * 100, "x" * 100, "x" * 50]
    assert split_text("short", MAX_BODY) == ["short"]
    assert split_text("   ", MAX_BODY) == []


def test_no_replies_give_an_empty_response(twilio, engine):
    engine.script = lambda text: []
    root = twiml(twilio.sms("…"))
    assert list(root) == []


def test_a_picture_without_text_is_not_stored(twilio, engine, sqlite_url):
    root = twiml(twilio.sms("", NumMedia="1", MediaUrl0="https://api.twilio.com/x.jpg"))
    assert list(root) == []
    assert count(sqlite_url, Message) == 0 and engine.received == []
