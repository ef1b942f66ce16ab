"""The Telegram connector: python-telegram-bot's real `Bot` against a local fake Bot API, inside a
real gateway (`create_app`) with a migrated database and a scripted stand-in for the engine."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

import connectors.telegram as tg
from bot.config import Settings
from bot.db import make_engine, make_sessionmaker
from bot.gateway import create_app
from bot.gateway.pipeline import PHONE_LINKED
from bot.models import Channel, ChannelIdentity, Citizen, Direction, Message
from bot.runner import free_port
from connectors.base import Button, OutboundMessage
from tests.connectors import SECRET_HEADER, TelegramUser
from tests.fakes.engine import FakeEngine
from tests.fakes.telegram_api import FakeTelegramApi

SECRET = "s3cret-Token_for-tests"
PUBLIC_URL = "https://civic.example"


@pytest.fixture(autouse=True)
def nothing_fails_silently(caplog) -> Iterator[None]:
    """A send that raises is only logged (the webhook stays 200): fail the test on it."""
    yield
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


@pytest.fixture
def api() -> Iterator[FakeTelegramApi]:
    with FakeTelegramApi() as fake:
        yield fake


@pytest.fixture
def engine() -> Iterator[FakeEngine]:
    with FakeEngine() as fake:
        yield fake


def settings_for(database_url: str, api: FakeTelegramApi, engine: FakeEngine, **extra) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "rasa_url": engine.url,
        "action_server_url": f"http://127.0.0.1:{free_port()}",
        "engine_timeout_seconds": 5,
        "telegram_bot_token": api.token,
        "telegram_webhook_secret": SECRET,
        "telegram_api_base_url": api.base_url,
        "public_base_url": PUBLIC_URL,
        "default_phone_region": "US",
    }
    values.update(extra)
    return Settings(**values)


@pytest.fixture
def gateway(sqlite_url, api, engine) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(sqlite_url, api, engine), with_outbox=False)) as c:
        yield c


def post(client: TestClient, update: Any, secret: str | None = SECRET) -> int:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    body = update if isinstance(update, bytes) else json.dumps(update).encode()
    response = client.post(
        tg.WEBHOOK_PATH, content=body, headers={"Content-Type": "application/json", **headers}
    )
    return response.status_code


def transcript(database_url: str) -> list[tuple[Direction, str, str | None]]:
    db = make_engine(database_url)
    with make_sessionmaker(db)() as s:
        rows = [
            (m.direction, m.text, m.provider_message_id)
            for m in s.scalars(select(Message).order_by(Message.id))
        ]
    db.dispose()
    return rows


def texts(api: FakeTelegramApi, chat_id: int | None = None) -> list[str]:
    return [m["text"] for m in api.sent_messages(chat_id)]


ana = TelegramUser(4242, "Ana")


# -- start-up and settings ----------------------------------------------------------------------


def test_start_registers_the_webhook_with_the_secret(gateway, api):
    assert api.webhook["url"] == f"{PUBLIC_URL}/webhooks/telegram"
    assert api.webhook["secret_token"] == SECRET
    assert [name for name, _ in api.calls] == ["getMe", "setWebhook"]


@pytest.mark.parametrize(
    "extra, reason",
    [
        ({"telegram_bot_token": ""}, "TELEGRAM_BOT_TOKEN not set"),
        ({"telegram_webhook_secret": ""}, "TELEGRAM_WEBHOOK_SECRET is not"),
        ({"telegram_webhook_secret": "has spaces!"}, "TELEGRAM_WEBHOOK_SECRET must be"),
    ],
)
def test_channel_is_off_with_a_clear_reason(sqlite_url, api, engine, extra, reason):
    channel, why = tg.channel_from_settings(settings_for(sqlite_url, api, engine, **extra))
    assert channel is None
    assert reason in why


def test_without_a_public_url_the_channel_long_polls(sqlite_url, api, engine):
    settings = settings_for(sqlite_url, api, engine, public_base_url="", telegram_webhook_secret="")
    channel, why = tg.channel_from_settings(settings)
    assert channel is not None and why == "long polling"
    assert channel.routes() == []  # no secret, so no webhook anybody could post to


# -- verification and bad input -----------------------------------------------------------------


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x", SECRET.upper()])
def test_a_missing_or_wrong_secret_is_rejected_and_nothing_stored(
    gateway, api, engine, sqlite_url, secret
):
    assert post(gateway, ana.text("hello"), secret=secret) == 403
    assert transcript(sqlite_url) == []
    assert engine.texts == [] and api.sent_messages() == []


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"message": {}}',
        b'{"update_id": "7"}',
        b'{"update_id": 7, "message": 3}',
    ],
)
def test_malformed_updates_are_a_bad_request(gateway, engine, sqlite_url, body):
    assert post(gateway, body) == 400
    assert transcript(sqlite_url) == [] and engine.texts == []


# -- text, commands, buttons --------------------------------------------------------------------


def test_a_text_goes_through_the_engine_and_the_reply_is_sent(gateway, api, engine, sqlite_url):
    update = ana.text("my bin was not emptied")
    assert post(gateway, update) == 200
    assert engine.texts == ["my bin was not emptied"]
    (reply,) = api.sent_messages(ana.id)
    assert reply["text"] == "you said: my bin was not emptied"
    assert "parse_mode" not in reply
    message_id = update["message"]["message_id"]
    assert transcript(sqlite_url) == [
        (Direction.INBOUND, "my bin was not emptied", f"msg:{ana.id}:{message_id}"),
        (Direction.OUTBOUND, "you said: my bin was not emptied", None),
    ]
    db = make_engine(sqlite_url)
    with make_sessionmaker(db)() as s:
        identity = s.scalar(
            select(ChannelIdentity).where(ChannelIdentity.channel == Channel.TELEGRAM)
        )
        assert identity is not None and identity.external_id == str(ana.id)
        assert identity.citizen.name == "Ana"
    db.dispose()


def test_a_redelivered_update_is_answered_once(gateway, api, engine):
    update = ana.text("streetlight out")
    assert post(gateway, update) == 200
    assert post(gateway, update) == 200
    assert engine.texts == ["streetlight out"]
    assert len(api.sent_messages(ana.id)) == 1


def test_start_greets_and_offers_to_share_the_phone_number(gateway, api, engine):
    assert post(gateway, ana.text("/start")) == 200
    assert engine.texts == ["hello"]
    greeting, offer = api.sent_messages(ana.id)
    assert greeting["text"] == "you said: hello"
    assert offer["text"] == tg.SHARE_PHONE_OFFER_TEXT
    (row,) = offer["reply_markup"]["keyboard"]
    assert row == [{"text": tg.SHARE_PHONE_BUTTON, "request_contact": True}]


def test_other_commands_lose_their_slash(gateway, engine):
    post(gateway, ana.text("/status@civicline_test_bot 1234-5678"))
    post(gateway, ana.text("/affirm"))
    assert engine.texts == ["status 1234-5678", "affirm"]


def test_buttons_are_inline_keyboards_and_a_press_sends_the_payload(
    gateway, api, engine, sqlite_url
):
    engine.script = lambda text: [
        {"text": "Here is your report.", "buttons": [{"title": "Report", "payload": "/report"}]},
        {
            "text": "Shall I send it?",
            "buttons": [
                {"title": "Yes, send it", "payload": "/affirm"},
                {"title": "No, don't send", "payload": '/deny{"reason":"' + "x" * 80 + '"}'},
            ],
        },
    ]
    post(gateway, ana.text("there is a pothole"))
    first, second = api.sent_messages(ana.id)
    assert first["reply_markup"] == {
        "inline_keyboard": [[{"text": "Report", "callback_data": "choice:1"}]]
    }
    assert second["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "Yes, send it", "callback_data": "choice:2"}],
            [{"text": "No, don't send", "callback_data": "choice:3"}],
        ]
    }

    engine.script = lambda text: [{"text": "Sent! Your reference is 1234-5678."}]
    press = ana.press(second, "Yes, send it")
    assert post(gateway, press) == 200
    assert engine.texts[-1] == "/affirm"
    assert api.calls_to("answerCallbackQuery") == [
        {"callback_query_id": press["callback_query"]["id"]}
    ]
    assert texts(api, ana.id)[-1] == "Sent! Your reference is 1234-5678."
    assert transcript(sqlite_url)[-2][1:] == (
        "Yes, send it",
        f"callback:{press['callback_query']['id']}",
    )


def test_a_button_with_unknown_data_is_acknowledged_and_ignored(gateway, api, engine, sqlite_url):
    update = ana.press(
        {
            "message_id": 1,
            "text": "old",
            "reply_markup": {"inline_keyboard": [[{"text": "x", "callback_data": "legacy"}]]},
        },
        "x",
    )
    assert post(gateway, update) == 200
    assert api.calls_to("answerCallbackQuery") == [
        {"callback_query_id": update["callback_query"]["id"]}
    ]
    assert engine.texts == [] and transcript(sqlite_url) == []


# -- contact and location -----------------------------------------------------------------------


def citizens(database_url: str) -> list[tuple[str | None, str | None]]:
    db = make_engine(database_url)
    with make_sessionmaker(db)() as s:
        rows = [(c.name, c.phone) for c in s.scalars(select(Citizen).order_by(Citizen.id))]
    db.dispose()
    return rows


def test_sharing_ones_own_contact_links_the_phone_number(gateway, api, engine, sqlite_url):
    assert post(gateway, ana.own_contact("15550104242")) == 200
    assert engine.texts == []  # answered by the gateway itself
    (reply,) = api.sent_messages(ana.id)
    assert reply["text"] == PHONE_LINKED.text
    assert reply["reply_markup"] == {"remove_keyboard": True}  # the share button has done its job
    assert citizens(sqlite_url) == [("Ana", "+15550104242")]


def test_someone_elses_contact_is_not_linked_nor_stored(gateway, api, engine, sqlite_url):
    assert post(gateway, ana.contact("+15550109999", user_id=777)) == 200
    assert post(gateway, ana.contact("+15550109998")) == 200  # not a Telegram user at all
    assert texts(api, ana.id) == [tg.NOT_OWN_CONTACT_TEXT] * 2
    assert api.sent_messages(ana.id)[0]["reply_markup"]["keyboard"][0][0]["request_contact"]
    assert engine.texts == [] and transcript(sqlite_url) == []
    assert citizens(sqlite_url) == []


def test_a_shared_location_becomes_the_case_location(gateway, api, engine, sqlite_url):
    assert post(gateway, ana.location(51.5007, -0.1246)) == 200
    assert engine.texts == ['/inform{"location":"51.50070, -0.12460 (shared location)"}']
    assert transcript(sqlite_url)[0][1] == "[shared a location: 51.50070, -0.12460]"


# -- what is not served -------------------------------------------------------------------------

_FILE = {"file_id": "f1", "file_unique_id": "u1"}


@pytest.mark.parametrize(
    "content",
    [
        {
            "sticker": {
                **_FILE,
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
            }
        },
        {"photo": [{**_FILE, "width": 90, "height": 90}], "caption": "the pothole"},
        {"voice": {**_FILE, "duration": 4}},
        {"document": {**_FILE, "file_name": "report.pdf"}},
    ],
    ids=["sticker", "photo", "voice", "document"],
)
def test_media_get_a_polite_explanation_without_the_engine(
    gateway, api, engine, sqlite_url, content
):
    assert post(gateway, ana.message(**content)) == 200
    assert texts(api, ana.id) == [tg.UNSUPPORTED_TEXT]
    assert engine.texts == [] and transcript(sqlite_url) == []


def test_group_chats_are_not_served(gateway, api, engine, sqlite_url):
    group = {"id": -100123, "type": "supergroup", "title": "Neighbours"}
    member = TelegramUser(5151, "Bo", chat=group)
    assert post(gateway, member.text("/start@civicline_test_bot")) == 200
    assert post(gateway, member.text("there is a pothole")) == 200
    assert texts(api) == [tg.PRIVATE_ONLY_TEXT]  # one line, to the group, for the command only
    assert api.sent_messages()[0]["chat_id"] == group["id"]
    assert engine.texts == [] and transcript(sqlite_url) == []


def test_edits_and_other_updates_are_ignored(gateway, api, engine, sqlite_url):
    edited = ana.text("hello")
    edited["edited_message"] = edited.pop("message")
    post_ = {
        "update_id": 99,
        "channel_post": {**edited["edited_message"], "chat": {"id": -1, "type": "channel"}},
    }
    for update in (edited, post_, {"update_id": 100}):
        assert post(gateway, update) == 200
    assert api.sent_messages() == [] and engine.texts == []
    assert transcript(sqlite_url) == []


# -- rendering ----------------------------------------------------------------------------------


def test_long_replies_are_split_under_the_limit_at_paragraphs(gateway, api, engine):
    paragraphs = [f"Paragraph {i}: " + "word " * 150 for i in range(20)]  # ~15,000 characters
    long_text = "\n\n".join(p.strip() for p in paragraphs)
    engine.script = lambda text: [
        {"text": long_text, "buttons": [{"title": "More", "payload": "/more"}]}
    ]
    post(gateway, ana.text("tell me everything"))
    sent = api.sent_messages(ana.id)
    assert len(sent) == 4
    assert all(len(m["text"]) <= 4096 for m in sent)
    assert all(m["text"].startswith("Paragraph") for m in sent)  # cut between paragraphs
    assert "\n\n".join(m["text"] for m in sent) == long_text
    assert [bool(m.get("reply_markup")) for m in sent] == [False, False, False, True]


def test_split_counts_like_telegram_and_never_loses_text():
    emoji = "🚧" * 3000  # 2 UTF-16 units each: 6000 units
    pieces = tg.split_text(emoji)
    assert len(pieces) == 2 and "".join(pieces) == emoji
    assert all(len(p.encode("utf-16-le")) // 2 <= tg.MAX_TEXT for p in pieces)
    line = "x" * 5000 + " tail"
    assert tg.split_text(line) == ["x" * 4096, "x" * 904 + " tail"]
    assert tg.split_text("one\n" + "y" * 4094) == ["one", "y" * 4094]
    assert tg.split_text("   ") == []


def test_markup_in_replies_is_shown_literally(gateway, api, engine):
    engine.script = lambda text: [{"text": "Details: <b>big</b> hole & <a href='x'>link</a>"}]
    post(gateway, ana.text("<b>hi</b> & bye"))
    assert engine.texts == ["<b>hi</b> & bye"]
    (reply,) = api.sent_messages(ana.id)
    assert reply["text"] == "Details: <b>big</b> hole & <a href='x'>link</a>"
    assert "parse_mode" not in reply  # plain text: Telegram interprets nothing


def test_render_numbers_buttons_across_replies_and_fills_empty_texts():
    out = tg.render_replies(
        [
            OutboundMessage("", handoff=True),
            OutboundMessage("", (Button("A", "/a"),)),
            OutboundMessage("pick", (Button(" ", "/b"), Button("C", "/c"))),
        ]
    )
    assert [o.text for o in out] == [tg.CHOOSE_TEXT, "pick"]
    data = [[b[0].callback_data for b in o.keyboard.inline_keyboard] for o in out if o.keyboard]
    assert data == [["choice:1"], ["choice:2", "choice:3"]]
    assert out[1].keyboard.inline_keyboard[0][0].text == "Option 2"


# -- provider failures --------------------------------------------------------------------------


def test_a_failed_send_keeps_the_webhook_green_and_the_reply_in_the_transcript(
    gateway, api, engine, sqlite_url, caplog
):
    api.block_chat(ana.id)
    assert post(gateway, ana.text("hello")) == 200
    assert api.sent_messages() == []
    assert transcript(sqlite_url)[-1][1] == "you said: hello"
    assert "could not send the reply" in caplog.text
    caplog.clear()  # expected here


def test_a_send_is_retried_after_a_server_error(gateway, api, engine, monkeypatch):
    monkeypatch.setattr(tg, "SEND_RETRY_DELAYS", (0.05, 0.1))
    api.fail_next(2, status=502)
    assert post(gateway, ana.text("hello")) == 200
    assert texts(api, ana.id) == ["you said: hello"]
    assert len(api.calls_to("sendMessage")) == 3


# -- long polling -------------------------------------------------------------------------------


def test_long_polling_picks_up_queued_updates_and_backs_off_on_errors(
    sqlite_url, api, engine, monkeypatch
):
    monkeypatch.setattr(tg, "RETRY_DELAYS", (0.05, 0.2))
    monkeypatch.setattr(tg, "SEND_RETRY_DELAYS", (0.05, 0.1))
    settings = settings_for(sqlite_url, api, engine, public_base_url="")
    api.fail_next(1, status=502)  # the Bot API is down when the gateway starts
    with TestClient(create_app(settings, with_outbox=False)):
        api.queue_update(ana.text("hello from my laptop"))
        api.wait_for(lambda: api.sent_messages(ana.id), timeout=10)
        api.fail_next(2, status=500)
        api.queue_update(ana.text("and again"))
        api.wait_for(lambda: len(api.sent_messages(ana.id)) == 2, timeout=10)
    assert texts(api, ana.id) == ["you said: hello from my laptop", "you said: and again"]
    assert engine.texts == ["hello from my laptop", "and again"]
    names = [name for name, _ in api.calls]
    assert "setWebhook" not in names and "deleteWebhook" in names
    assert names.count("getMe") == 2  # the first one failed, retried in the background
