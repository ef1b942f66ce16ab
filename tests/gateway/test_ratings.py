"""Rating questions (CSAT) answered on every channel, through the real gateway: the question goes
out through the outbox (the real twilio and python-telegram-bot SDKs against the local fakes),
the answer comes back through the real connectors, and the engine never hears it."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

import connectors.telegram as tg
from bot.config import Settings
from bot.db import make_engine, make_sessionmaker, transaction
from bot.gateway import create_app
from bot.models import (
    AuthorKind,
    Channel,
    ChannelIdentity,
    Conversation,
    Direction,
    Message,
    Rating,
)
from bot.runner import free_port
from bot.services import feedback, takeover
from bot.services.cases import open_case
from bot.services.handoff import request_handoff
from bot.services.staff import create_user
from tests.connectors import SECRET_HEADER, TelegramUser, sent_with_button
from tests.connectors.test_twilio_sms import BASE, TOKEN, TwilioWebhooks, sms_bodies
from tests.fakes.engine import FakeEngine
from tests.fakes.telegram_api import FakeTelegramApi
from tests.fakes.twilio_api import FakeTwilioApi

SECRET = "ratings-secret"
CITY_NUMBER = "+15550100000"
CALLER = "+15550100777"
WEB_SENDER = "web-rating-1"
MENU = [
    {"title": "Fees", "payload": "/ask_fees"},
    {"title": "Documents", "payload": "/ask_documents"},
    {"title": "Opening hours", "payload": "/ask_hours"},
]
_staff = itertools.count(1)
ana = TelegramUser(4343, "Ana")


@dataclass
class Gateway:
    client: TestClient
    engine: FakeEngine
    telegram: FakeTelegramApi
    twilio: FakeTwilioApi
    sessions: sessionmaker[Session]

    def sms(self, body: str) -> list[str]:
        return sms_bodies(TwilioWebhooks(self.client).sms(body, sender=CALLER))

    def telegram_update(self, update: dict[str, Any]) -> None:
        response = self.client.post(tg.WEBHOOK_PATH, json=update, headers={SECRET_HEADER: SECRET})
        assert response.status_code == 200

    def web(self, text: str) -> list[dict[str, Any]]:
        response = self.client.post(
            "/webhooks/rest/webhook", json={"sender": WEB_SENDER, "message": text}
        )
        assert response.status_code == 200, response.text
        return response.json()

    def conversation(self, session: Session, channel: Channel) -> Conversation:
        return session.scalars(select(Conversation).where(Conversation.channel == channel)).one()

    def ratings(self) -> list[Rating]:
        with transaction(self.sessions) as session:
            return list(session.scalars(select(Rating).order_by(Rating.id)))

    def last_line(self, channel: Channel) -> Message:
        with transaction(self.sessions) as session:
            return session.scalars(
                select(Message).where(Message.channel == channel).order_by(Message.id.desc())
            ).first()


@pytest.fixture
def gateway(sqlite_url: str) -> Iterator[Gateway]:
    with (
        FakeEngine() as engine,
        FakeTelegramApi() as telegram,
        FakeTwilioApi(auth_token=TOKEN) as twilio,
    ):
        settings = Settings(
            database_url=sqlite_url,
            rasa_url=engine.url,
            action_server_url=f"http://127.0.0.1:{free_port()}",
            engine_timeout_seconds=5,
            public_base_url=BASE,
            telegram_bot_token=telegram.token,
            telegram_webhook_secret=SECRET,
            telegram_api_base_url=telegram.base_url,
            twilio_account_sid=twilio.account_sid,
            twilio_auth_token=TOKEN,
            twilio_number=CITY_NUMBER,
            twilio_api_base_url=twilio.base_url,
            default_phone_region="US",
            outbox_poll_seconds=0.05,
        )
        db = make_engine(sqlite_url)
        with TestClient(create_app(settings)) as client:  # channels and the outbox worker on
            yield Gateway(client, engine, telegram, twilio, make_sessionmaker(db))
        db.dispose()


def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Wait for the outbox worker (a task in the gateway) to have done something."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the outbox")
        time.sleep(0.05)


def resolve_with_staff(gateway: Gateway, channel: Channel) -> None:
    """A member of staff takes the conversation from the queue and resolves it: the citizen is
    asked for a rating (`takeover.resolve` → `feedback.ask_after_handoff`)."""
    with transaction(gateway.sessions) as session:
        conversation = gateway.conversation(session, channel)
        request_handoff(session, conversation, reason="citizen_request")
        alice = create_user(
            session, f"alice{next(_staff)}", "correct horse battery", display_name="Alice Ex"
        )
        takeover.claim(session, conversation, alice)
        takeover.resolve(session, conversation, alice)


def ask_about_a_case(gateway: Gateway, channel: Channel, external_id: str) -> None:
    """A case of the citizen's is resolved: the rating question goes through the outbox only
    (`feedback.ask_after_case` stores no transcript line with its buttons)."""
    with transaction(gateway.sessions) as session:
        citizen_id = session.scalar(
            select(ChannelIdentity.citizen_id).where(
                ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id
            )
        )
        case = open_case(
            session,
            citizen_id=citizen_id,
            category_key="pothole",
            description="Deep hole",
            location="12 Elm Road",
            channel=channel,
        )
        assert feedback.ask_after_case(session, case) is not None


def assert_rated(gateway: Gateway, channel: Channel, score: int) -> None:
    (rating,) = gateway.ratings()
    assert (rating.channel, rating.score) == (channel, score)
    assert rating.answered_at is not None
    thanks = gateway.last_line(channel)
    assert (thanks.direction, thanks.author_kind, thanks.text) == (
        Direction.OUTBOUND,
        AuthorKind.SYSTEM,
        feedback.THANKS,
    )


# -- after a handoff is resolved ----------------------------------------------------------------


def test_an_sms_digit_answers_the_rating_question(gateway):
    gateway.sms("hello")
    resolve_with_staff(gateway, Channel.SMS)
    question = eventually(
        lambda: [m for m in gateway.twilio.sent_messages(CALLER) if "rate" in m["Body"]]
    )
    assert question[0]["Body"].endswith(
        "Reply 1 for 1 – poor, 2 for 2 – fair, 3 for 3 – good, 4 for 4 – very good "
        "or 5 for 5 – excellent."
    )

    assert gateway.sms("4") == [feedback.THANKS]

    assert_rated(gateway, Channel.SMS, 4)
    assert gateway.engine.texts == ["hello"]  # the "4" never reached the engine


def test_a_telegram_button_press_answers_the_rating_question(gateway):
    gateway.telegram_update(ana.text("hello"))
    resolve_with_staff(gateway, Channel.TELEGRAM)
    question = eventually(
        lambda: [
            m for m in gateway.telegram.sent_messages(ana.id) if m.get("reply_markup") is not None
        ]
    )
    assert question[0]["text"] == feedback.QUESTION

    press = ana.press(question[0], "4 – very good")
    gateway.telegram_update(press)

    assert_rated(gateway, Channel.TELEGRAM, 4)
    assert gateway.engine.texts == ["hello"]
    assert gateway.telegram.sent_messages(ana.id)[-1]["text"] == feedback.THANKS
    assert gateway.telegram.calls_to("answerCallbackQuery") == [
        {"callback_query_id": press["callback_query"]["id"]}
    ]


def test_a_typed_web_digit_answers_the_rating_question(gateway):
    gateway.web("hello")
    resolve_with_staff(gateway, Channel.WEB)

    (thanks,) = gateway.web("4")

    assert thanks["text"] == feedback.THANKS
    assert thanks["id"] == gateway.last_line(Channel.WEB).id
    assert_rated(gateway, Channel.WEB, 4)
    assert gateway.engine.texts == ["hello"]


def test_any_other_message_closes_the_question_and_goes_to_the_engine(gateway):
    gateway.sms("hello")
    resolve_with_staff(gateway, Channel.SMS)

    assert gateway.sms("when is the tip open?") == ["you said: when is the tip open?"]
    (rating,) = gateway.ratings()
    assert rating.score is None and rating.answered_at is not None  # closed, unanswered

    assert gateway.sms("4") == ["you said: 4"]  # no question open any more: the engine's
    assert gateway.engine.texts == ["hello", "when is the tip open?", "4"]
    assert gateway.ratings()[0].score is None


# -- after a case is resolved: the question exists only in the outbox ---------------------------


def test_an_sms_digit_rates_the_case_not_an_older_menu(gateway):
    gateway.engine.script = lambda text: [{"text": "What would you like to know?", "buttons": MENU}]
    gateway.sms("hello")  # the citizen leaves a numbered menu unanswered…
    ask_about_a_case(gateway, Channel.SMS, CALLER)  # …then is asked about a case
    eventually(lambda: [m for m in gateway.twilio.sent_messages(CALLER) if "rate" in m["Body"]])

    assert gateway.sms("2") == [feedback.THANKS]  # the question's "2", not the menu's

    assert_rated(gateway, Channel.SMS, 2)
    assert gateway.engine.texts == ["hello"]


def test_a_telegram_press_rates_the_case_without_a_stored_question(gateway):
    gateway.engine.script = lambda text: [{"text": "What would you like to know?", "buttons": MENU}]
    gateway.telegram_update(ana.text("hello"))
    ask_about_a_case(gateway, Channel.TELEGRAM, str(ana.id))
    sent = eventually(lambda: gateway.telegram.sent_messages(ana.id)[1:])
    assert sent[0]["text"].endswith(feedback.QUESTION)

    gateway.telegram_update(ana.press(sent_with_button(sent, "2 – fair"), "2 – fair"))

    assert_rated(gateway, Channel.TELEGRAM, 2)
    assert gateway.engine.texts == ["hello"]


def test_a_press_on_an_older_keyboard_is_not_a_rating(gateway):
    gateway.engine.script = lambda text: [{"text": "What would you like to know?", "buttons": MENU}]
    gateway.telegram_update(ana.text("hello"))
    menu = gateway.telegram.sent_messages(ana.id)[0]
    ask_about_a_case(gateway, Channel.TELEGRAM, str(ana.id))
    eventually(lambda: gateway.telegram.sent_messages(ana.id)[1:])

    gateway.telegram_update(ana.press(menu, "Documents"))  # choice:2, but not "2 – fair"

    (rating,) = gateway.ratings()
    assert rating.score is None and rating.answered_at is not None
    assert gateway.engine.texts == ["hello", "/ask_documents"]
