"""The fakes answer the REAL SDKs (python-telegram-bot, twilio) the way the providers do."""

from __future__ import annotations

import httpx
import pytest
import telegram
from telegram.error import BadRequest, Forbidden, NetworkError
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.fakes.telegram_api import FakeTelegramApi
from tests.fakes.twilio_api import FakeTwilioApi


@pytest.fixture
def telegram_api():
    with FakeTelegramApi() as fake:
        yield fake


@pytest.fixture
def twilio_api():
    with FakeTwilioApi(auth_token="secret") as fake:
        yield fake


async def test_telegram_fake_answers_python_telegram_bot(telegram_api: FakeTelegramApi) -> None:
    bot = telegram.Bot(telegram_api.token, base_url=telegram_api.base_url)
    async with bot:  # initialize() calls getMe
        assert bot.username == telegram_api.username
        keyboard = telegram.InlineKeyboardMarkup(
            [[telegram.InlineKeyboardButton("Yes", callback_data="yes")]]
        )
        message = await bot.send_message(chat_id=4242, text="Hello 42", reply_markup=keyboard)
        assert message.message_id == 1
        assert message.chat.id == 4242
        assert message.text == "Hello 42"
        assert await bot.answer_callback_query("cb-1") is True
        assert await bot.set_webhook("https://example.test/tg", secret_token="s3cret") is True
        assert telegram_api.webhook["secret_token"] == "s3cret"
        assert await bot.delete_webhook() is True
        assert await bot.edit_message_reply_markup(chat_id=4242, message_id=1) is True

    [sent] = telegram_api.sent_messages(chat_id=4242)
    assert sent["chat_id"] == 4242
    assert sent["text"] == "Hello 42"
    assert sent["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "yes"
    assert [m for m, _ in telegram_api.calls][:2] == ["getMe", "sendMessage"]


async def test_telegram_fake_errors_reach_ptb_as_its_exceptions(
    telegram_api: FakeTelegramApi,
) -> None:
    bot = telegram.Bot(telegram_api.token, base_url=telegram_api.base_url)
    async with bot:
        telegram_api.fail_next(1)
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await bot.send_message(chat_id=1, text="x")
        telegram_api.block_chat(7)
        with pytest.raises(Forbidden, match="blocked"):
            await bot.send_message(chat_id=7, text="x")
        with pytest.raises(BadRequest, match="too long"):
            await bot.send_message(chat_id=1, text="x" * 4097)
        await bot.send_message(chat_id=1, text="after the outage")
    assert [m["text"] for m in telegram_api.sent_messages()] == ["after the outage"]


async def test_telegram_fake_serves_queued_updates_honouring_offset(
    telegram_api: FakeTelegramApi,
) -> None:
    for text in ("one", "two"):
        telegram_api.queue_update(
            {
                "message": {
                    "message_id": 10,
                    "date": 0,
                    "chat": {"id": 5, "type": "private"},
                    "from": {"id": 5, "is_bot": False, "first_name": "Ann"},
                    "text": text,
                }
            }
        )
    bot = telegram.Bot(telegram_api.token, base_url=telegram_api.base_url)
    async with bot:
        updates = await bot.get_updates(timeout=0)
        assert [u.message.text for u in updates] == ["one", "two"]
        updates = await bot.get_updates(offset=updates[0].update_id + 1, timeout=0)
        assert [u.message.text for u in updates] == ["two"]
        assert await bot.get_updates(offset=updates[0].update_id + 1, timeout=0) == ()


async def test_telegram_fake_parses_json_bodies_and_checks_the_token(
    telegram_api: FakeTelegramApi,
) -> None:
    async with httpx.AsyncClient() as client:
        url = f"{telegram_api.base_url}{telegram_api.token}/sendMessage"
        answer = await client.post(url, json={"chat_id": 9, "text": "json body"})
        assert answer.json()["result"]["text"] == "json body"
        wrong = await client.post(f"{telegram_api.base_url}1:wrong/getMe")
        assert wrong.status_code == 401
        assert wrong.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert telegram_api.sent_messages(9)[0]["text"] == "json body"


def test_twilio_fake_answers_the_twilio_sdk(twilio_api: FakeTwilioApi) -> None:
    client = Client(twilio_api.account_sid, "secret")
    client.api.base_url = twilio_api.base_url
    message = client.messages.create(to="+15555550123", from_="+15555550100", body="Hi there")
    assert message.sid.startswith("SM")
    assert message.status == "queued"
    assert message.to == "+15555550123"
    assert client.messages(message.sid).fetch().body == "Hi there"
    [sent] = twilio_api.messages
    assert sent == {
        "To": "+15555550123",
        "From": "+15555550100",
        "Body": "Hi there",
        "Sid": message.sid,
    }


def test_twilio_fake_errors_reach_the_sdk(twilio_api: FakeTwilioApi) -> None:
    client = Client(twilio_api.account_sid, "secret")
    client.api.base_url = twilio_api.base_url
    twilio_api.fail_next(1, status=503)
    with pytest.raises(TwilioRestException) as outage:
        client.messages.create(to="+15555550123", from_="+15555550100", body="x")
    assert outage.value.status == 503
    with pytest.raises(TwilioRestException) as invalid:
        client.messages.create(to="12", from_="+15555550100", body="x")
    assert (invalid.value.status, invalid.value.code) == (400, 21211)
    assert twilio_api.messages == []


def test_twilio_fake_requires_basic_auth_with_the_account_sid(twilio_api: FakeTwilioApi) -> None:
    for sid, token in [("AC" + "f" * 32, "secret"), (twilio_api.account_sid, "wrong")]:
        client = Client(sid, token)
        client.api.base_url = twilio_api.base_url
        with pytest.raises(TwilioRestException) as denied:
            client.api.v2010.accounts(twilio_api.account_sid).messages.create(
                to="+15555550123", from_="+15555550100", body="x"
            )
        assert denied.value.status == 401
    anonymous = httpx.post(f"{twilio_api.base_url}/2010-04-01/Accounts/x/Messages.json")
    assert anonymous.status_code == 401
    assert twilio_api.messages == []
