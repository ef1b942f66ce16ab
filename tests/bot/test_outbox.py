"""The outbox worker sends through the REAL SDKs (twilio, python-telegram-bot) to local fakes.

The worker commits, so these tests use their own database (SQLite, and PostgreSQL when
TEST_DATABASE_URL is set: a sibling database `<name>_outbox`, so the shared one is not touched)
and empty the outbox before each test. `run_once(now=…)` steps through the back-off without
sleeping.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.db import make_engine, make_sessionmaker, transaction
from bot.models import (
    AuthorKind,
    CaseStatus,
    Channel,
    ChannelIdentity,
    Conversation,
    Notification,
    NotificationKind,
    NotificationStatus,
)
from bot.outbox import (
    OutboxWorker,
    PermanentSendError,
    Sender,
    TelegramSender,
    TransientSendError,
    TwilioSmsSender,
    senders_from_settings,
)
from bot.services import conversations, notifications, takeover
from bot.services.cases import change_status, open_case
from bot.services.citizens import resolve_identity, set_opted_out
from bot.services.delivery import say
from bot.services.handoff import request_handoff
from bot.services.staff import create_user
from tests.conftest import BACKENDS, prepared_database, sibling_postgres_url
from tests.fakes.telegram_api import FakeTelegramApi
from tests.fakes.twilio_api import FakeTwilioApi

T0 = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
CITY_NUMBER = "+15555550100"
AUTH_TOKEN = "twilio-test-auth-token"
_numbers = itertools.count(1)


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=BACKENDS)
def outbox_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("outbox") / "crm.db"
        url = f"sqlite:///{path}"
    else:
        url = sibling_postgres_url("outbox")
    engine = prepared_database(url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(outbox_engine: Engine) -> sessionmaker[Session]:
    """Sessions on the test database, with an empty outbox."""
    factory = make_sessionmaker(outbox_engine)
    with transaction(factory) as session:
        session.execute(delete(Notification))
    return factory


@pytest.fixture
def twilio_api() -> Iterator[FakeTwilioApi]:
    with FakeTwilioApi(auth_token=AUTH_TOKEN) as fake:
        yield fake


@pytest.fixture
def telegram_api() -> Iterator[FakeTelegramApi]:
    with FakeTelegramApi() as fake:
        yield fake


def make_settings(twilio: FakeTwilioApi | None, telegram: FakeTelegramApi | None, **kw) -> Settings:
    values: dict[str, object] = {"outbox_max_attempts": 5, "outbox_poll_seconds": 0.05, **kw}
    if twilio is not None:
        values |= {
            "twilio_account_sid": twilio.account_sid,
            "twilio_auth_token": AUTH_TOKEN,
            "twilio_number": CITY_NUMBER,
            "twilio_api_base_url": twilio.base_url,
        }
    if telegram is not None:
        values |= {
            "telegram_bot_token": telegram.token,
            "telegram_api_base_url": telegram.base_url,
        }
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def make_worker(
    sessions: sessionmaker[Session],
    twilio: FakeTwilioApi | None = None,
    telegram: FakeTelegramApi | None = None,
    **kw,
) -> OutboxWorker:
    settings = make_settings(twilio, telegram, **kw)
    return OutboxWorker(sessions, settings, senders_from_settings(settings))


def new_recipient(channel: Channel) -> str:
    """A recipient no other test uses (the database lives for the module)."""
    n = next(_numbers)
    return f"+1555{os.getpid() % 1000:03d}{n:04d}" if channel is Channel.SMS else str(9_000_000 + n)


def queue(sessions: sessionmaker[Session], channel: Channel, recipient: str | None = None) -> int:
    """A citizen on `channel` whose case is acknowledged at T0: the queued notification's id."""
    recipient = recipient or new_recipient(channel)
    with transaction(sessions) as session:
        citizen_id = resolve_identity(session, channel, recipient).citizen_id
        case = open_case(
            session,
            citizen_id=citizen_id,
            category_key="pothole",
            description="Deep hole",
            location="12 Elm Road",
            channel=channel,
            now=T0,
        )
        change_status(session, case, CaseStatus.ACKNOWLEDGED, actor="staff:1", now=T0)
        return session.scalars(select(Notification.id).where(Notification.case_id == case.id)).one()


def row(sessions: sessionmaker[Session], notification_id: int) -> Notification:
    with transaction(sessions) as session:
        notification = session.get(Notification, notification_id)
        assert notification is not None
        return notification


# -- sending -------------------------------------------------------------------------------


async def test_sms_is_sent_through_twilio(sessions, twilio_api):
    notification_id = queue(sessions, Channel.SMS)
    queued = row(sessions, notification_id)
    worker = make_worker(sessions, twilio=twilio_api)

    assert await worker.run_once(now=T0) == 1
    assert await worker.run_once(now=T0 + timedelta(hours=1)) == 0

    [sms] = twilio_api.messages
    assert sms["To"] == queued.recipient
    assert sms["From"] == CITY_NUMBER
    assert sms["Body"] == queued.text
    sent = row(sessions, notification_id)
    assert sent.status is NotificationStatus.SENT
    assert (sent.attempts, sent.sent_at, sent.locked_until) == (1, T0, None)
    assert sent.provider_message_id == sms["Sid"]


async def test_telegram_message_is_sent_through_the_bot_api(sessions, telegram_api):
    notification_id = queue(sessions, Channel.TELEGRAM)
    queued = row(sessions, notification_id)
    worker = make_worker(sessions, telegram=telegram_api)
    try:
        assert await worker.run_once(now=T0) == 1
    finally:
        await worker.aclose()

    [message] = telegram_api.sent_messages(chat_id=queued.recipient)
    assert message["chat_id"] == int(queued.recipient)
    assert message["text"] == queued.text
    assert "reply_markup" not in message  # a case update has no buttons
    sent = row(sessions, notification_id)
    assert sent.status is NotificationStatus.SENT
    assert sent.provider_message_id == str(message["message_id"])


@pytest.mark.parametrize("channel", [Channel.SMS, Channel.TELEGRAM])
async def test_an_outage_delays_the_message_and_it_is_sent_exactly_once(
    sessions, twilio_api, telegram_api, channel
):
    fake = twilio_api if channel is Channel.SMS else telegram_api
    notification_id = queue(sessions, channel)
    worker = make_worker(sessions, twilio_api, telegram_api)
    fake.fail_next(2)
    try:
        assert await worker.run_once(now=T0) == 1
        first = row(sessions, notification_id)
        assert first.status is NotificationStatus.PENDING
        assert first.attempts == 1
        assert first.next_attempt_at == T0 + timedelta(seconds=5)
        assert "500" in first.last_error or "Internal Server Error" in first.last_error

        assert await worker.run_once(now=T0 + timedelta(seconds=4)) == 0  # not due yet
        assert await worker.run_once(now=T0 + timedelta(seconds=5)) == 1
        second = row(sessions, notification_id)
        assert (second.attempts, second.next_attempt_at) == (2, T0 + timedelta(seconds=15))

        assert await worker.run_once(now=T0 + timedelta(seconds=15)) == 1
        assert await worker.run_once(now=T0 + timedelta(hours=1)) == 0
    finally:
        await worker.aclose()

    delivered = twilio_api.messages if channel is Channel.SMS else telegram_api.sent_messages()
    assert len(delivered) == 1
    sent = row(sessions, notification_id)
    assert (sent.status, sent.attempts, sent.last_error) == (NotificationStatus.SENT, 3, None)
    assert sent.sent_at == T0 + timedelta(seconds=15)


async def test_it_gives_up_after_the_last_attempt(sessions, twilio_api):
    notification_id = queue(sessions, Channel.SMS)
    worker = make_worker(sessions, twilio=twilio_api, outbox_max_attempts=2)
    twilio_api.fail_next(10, status=503)

    assert await worker.run_once(now=T0) == 1
    assert await worker.run_once(now=T0 + timedelta(seconds=5)) == 1
    assert await worker.run_once(now=T0 + timedelta(days=1)) == 0

    failed = row(sessions, notification_id)
    assert (failed.status, failed.attempts) == (NotificationStatus.FAILED, 2)
    assert "503" in failed.last_error
    assert twilio_api.messages == []


async def test_an_invalid_number_fails_at_once(sessions, twilio_api):
    notification_id = queue(sessions, Channel.SMS, recipient="12345")
    worker = make_worker(sessions, twilio=twilio_api)

    assert await worker.run_once(now=T0) == 1

    failed = row(sessions, notification_id)
    assert (failed.status, failed.attempts) == (NotificationStatus.FAILED, 1)
    assert "21211" in failed.last_error
    assert twilio_api.messages == []


async def test_a_blocked_bot_fails_at_once(sessions, telegram_api):
    notification_id = queue(sessions, Channel.TELEGRAM)
    telegram_api.block_chat(row(sessions, notification_id).recipient)
    worker = make_worker(sessions, telegram=telegram_api)
    try:
        assert await worker.run_once(now=T0) == 1
    finally:
        await worker.aclose()

    failed = row(sessions, notification_id)
    assert (failed.status, failed.attempts) == (NotificationStatus.FAILED, 1)
    assert "blocked" in failed.last_error
    assert telegram_api.sent_messages() == []


async def test_a_channel_without_a_sender_waits_pending(sessions, twilio_api, telegram_api):
    notification_id = queue(sessions, Channel.TELEGRAM)
    sms_only = make_worker(sessions, twilio=twilio_api)

    assert await sms_only.run_once(now=T0 + timedelta(days=3)) == 0
    waiting = row(sessions, notification_id)
    assert (waiting.status, waiting.attempts) == (NotificationStatus.PENDING, 0)

    both = make_worker(sessions, twilio_api, telegram_api)  # the channel is configured later
    try:
        assert await both.run_once(now=T0 + timedelta(days=3)) == 1
    finally:
        await both.aclose()
    assert len(telegram_api.sent_messages()) == 1
    assert row(sessions, notification_id).status is NotificationStatus.SENT


async def test_stop_after_queueing_suppresses_the_message(sessions, twilio_api):
    notification_id = queue(sessions, Channel.SMS)
    with transaction(sessions) as session:
        identity = session.scalars(
            select(ChannelIdentity).where(
                ChannelIdentity.external_id == row(sessions, notification_id).recipient
            )
        ).one()
        set_opted_out(identity, True)
    worker = make_worker(sessions, twilio=twilio_api)

    assert await worker.run_once(now=T0) == 1

    suppressed = row(sessions, notification_id)
    assert suppressed.status is NotificationStatus.SUPPRESSED
    assert suppressed.last_error == notifications.OPTED_OUT_SINCE_QUEUED
    assert twilio_api.messages == []


# -- conversation lines: buttons, staff replies ---------------------------------------------

_staff_names = itertools.count(1)
SHALL_WE = [{"title": "Yes, please", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]


def conversation_on(sessions: sessionmaker[Session], channel: Channel) -> tuple[int, str]:
    """A new citizen's open conversation on `channel`: (conversation id, recipient)."""
    recipient = new_recipient(channel)
    with transaction(sessions) as session:
        identity = resolve_identity(session, channel, recipient)
        return conversations.current_conversation(session, identity.citizen_id, channel).id, (
            recipient
        )


def say_on(sessions: sessionmaker[Session], channel: Channel, text: str, buttons=None) -> str:
    conversation_id, recipient = conversation_on(sessions, channel)
    with transaction(sessions) as session:
        conversation = session.get(Conversation, conversation_id)
        say(session, conversation, text, author=AuthorKind.SYSTEM, buttons=buttons)
    return recipient


async def test_conversation_buttons_are_an_inline_keyboard_on_telegram(sessions, telegram_api):
    chat = say_on(sessions, Channel.TELEGRAM, "Shall we call you back?", SHALL_WE)
    worker = make_worker(sessions, telegram=telegram_api)
    try:
        assert await worker.run_once() == 1
    finally:
        await worker.aclose()

    [message] = telegram_api.sent_messages(chat)
    assert message["text"] == "Shall we call you back?"
    # Exactly as the connector renders a reply's buttons, so a press comes back as choice n
    # with the button's title (see tests/gateway/test_ratings.py for the round trip).
    assert message["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "Yes, please", "callback_data": "choice:1"}],
            [{"text": "No", "callback_data": "choice:2"}],
        ]
    }
    with transaction(sessions) as session:
        sent = session.scalars(select(Notification)).one()
        assert (sent.kind, sent.status) == (NotificationKind.CONVERSATION, NotificationStatus.SENT)


async def test_conversation_buttons_are_numbered_choices_on_sms(sessions, twilio_api):
    number = say_on(sessions, Channel.SMS, "Shall we call you back?", SHALL_WE)
    worker = make_worker(sessions, twilio=twilio_api)

    assert await worker.run_once() == 1

    [sms] = twilio_api.sent_messages(number)
    # The SMS connector's own rendering (titles with a comma are quoted): a digit answers it.
    assert sms["Body"] == 'Shall we call you back?\n\nReply 1 for "Yes, please" or 2 for "No".'


async def test_a_staff_reply_on_sms_reaches_twilio_through_the_worker(sessions, twilio_api):
    conversation_id, number = conversation_on(sessions, Channel.SMS)
    with transaction(sessions) as session:
        conversation = session.get(Conversation, conversation_id)
        request_handoff(session, conversation, reason="citizen_request")
        alice = create_user(
            session,
            f"alice{next(_staff_names)}",
            "correct horse battery",
            display_name="Alice Example",
        )
        takeover.claim(session, conversation, alice)
        takeover.reply(session, conversation, alice, "Hello, I'm looking at your bin now.")
    worker = make_worker(sessions, twilio=twilio_api)

    assert await worker.run_once() == 2  # the "has joined" line, then the reply

    joined, reply = (m["Body"] for m in twilio_api.sent_messages(number))
    assert joined.startswith("Alice from the ")
    assert reply == "Hello, I'm looking at your bin now."
    with transaction(sessions) as session:
        rows = session.scalars(select(Notification).order_by(Notification.id)).all()
        assert {r.status for r in rows} == {NotificationStatus.SENT}
        assert all(r.message_id is not None for r in rows)  # linked to the transcript line


# -- several workers -----------------------------------------------------------------------


async def test_two_workers_racing_on_one_database_send_each_message_once(
    outbox_engine, sessions, twilio_api, telegram_api
):
    ids = [queue(sessions, channel) for channel in [Channel.SMS, Channel.TELEGRAM] * 6]
    # Like two processes: separate engines (connection pools), separate senders.
    engines = [make_engine(outbox_engine.url.render_as_string(hide_password=False)) for _ in "ab"]
    workers = [make_worker(make_sessionmaker(e), twilio_api, telegram_api) for e in engines]
    try:
        handled = await asyncio.gather(*(w.run_once(now=T0) for w in workers))
    finally:
        for worker in workers:
            await worker.aclose()
        for engine in engines:
            engine.dispose()

    assert sum(handled) == len(ids)
    recipients = [m["To"] for m in twilio_api.messages] + [
        str(m["chat_id"]) for m in telegram_api.sent_messages()
    ]
    assert sorted(recipients) == sorted(row(sessions, i).recipient for i in ids)
    assert {row(sessions, i).status for i in ids} == {NotificationStatus.SENT}


def test_a_claim_is_taken_by_one_session_only(sessions):
    notification_id = queue(sessions, Channel.SMS)
    with sessions() as first, sessions() as second:
        assert notifications.due_notification_ids(first, T0, [Channel.SMS]) == [notification_id]
        assert notifications.due_notification_ids(second, T0, [Channel.SMS]) == [notification_id]
        first.rollback()
        second.rollback()
        assert notifications.claim(first, notification_id, T0) is not None
        first.commit()
        assert notifications.claim(second, notification_id, T0) is None
        second.commit()
    claimed = row(sessions, notification_id)
    assert (claimed.status, claimed.attempts) == (NotificationStatus.SENDING, 1)


async def test_a_row_left_sending_by_a_dead_worker_is_sent_after_its_lease(sessions, twilio_api):
    notification_id = queue(sessions, Channel.SMS)
    with transaction(sessions) as session:  # a worker claims it, then dies before sending
        notifications.claim(session, notification_id, T0)
    worker = make_worker(sessions, twilio=twilio_api)

    assert await worker.run_once(now=T0 + timedelta(minutes=1)) == 0  # still leased
    assert twilio_api.messages == []
    assert await worker.run_once(now=T0 + notifications.LEASE + timedelta(seconds=1)) == 1

    assert len(twilio_api.messages) == 1
    sent = row(sessions, notification_id)
    assert (sent.status, sent.attempts) == (NotificationStatus.SENT, 2)


async def test_a_lease_that_expires_on_the_last_attempt_fails_the_row(sessions, twilio_api):
    notification_id = queue(sessions, Channel.SMS)
    with transaction(sessions) as session:
        notifications.claim(session, notification_id, T0)
    worker = make_worker(sessions, twilio=twilio_api, outbox_max_attempts=1)

    assert await worker.run_once(now=T0 + notifications.LEASE + timedelta(seconds=1)) == 0

    failed = row(sessions, notification_id)
    assert (failed.status, failed.last_error) == (
        NotificationStatus.FAILED,
        notifications.LEASE_EXPIRED,
    )
    assert twilio_api.messages == []


def test_a_late_result_does_not_overwrite_a_newer_claim(sessions):
    notification_id = queue(sessions, Channel.SMS)
    later = T0 + notifications.LEASE + timedelta(seconds=1)
    with transaction(sessions) as session:
        old_claim = notifications.claim(session, notification_id, T0).locked_until
    with transaction(sessions) as session:
        notifications.release_expired_leases(session, later, max_attempts=5)
        notifications.claim(session, notification_id, later)
    with transaction(sessions) as session:
        assert not notifications.mark_sent(session, notification_id, old_claim, "SMold", later)
    assert row(sessions, notification_id).status is NotificationStatus.SENDING


# -- the loop ------------------------------------------------------------------------------


async def test_run_forever_polls_survives_errors_and_stops_when_cancelled(
    sessions, twilio_api, caplog, monkeypatch
):
    worker = make_worker(sessions, twilio=twilio_api, outbox_poll_seconds=0.01)
    real_run_once = worker.run_once
    rounds = 0

    async def flaky_run_once(now=None):
        nonlocal rounds
        rounds += 1
        if rounds == 1:
            raise RuntimeError("database went away")
        return await real_run_once(now=T0 + timedelta(seconds=rounds))

    monkeypatch.setattr(worker, "run_once", flaky_run_once)
    queue(sessions, Channel.SMS)
    with caplog.at_level(logging.ERROR, logger="bot.outbox"):
        task = asyncio.create_task(worker.run_forever())
        for _ in range(500):
            if twilio_api.messages:
                break
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    assert len(twilio_api.messages) == 1
    assert "this round failed" in caplog.text
    assert "database went away" in caplog.text


# -- senders -------------------------------------------------------------------------------


def test_only_configured_channels_get_a_sender(twilio_api, telegram_api):
    assert senders_from_settings(make_settings(None, None)) == {}
    assert set(senders_from_settings(make_settings(twilio_api, None))) == {Channel.SMS}
    both = senders_from_settings(make_settings(twilio_api, telegram_api))
    assert isinstance(both[Channel.SMS], TwilioSmsSender)
    assert isinstance(both[Channel.TELEGRAM], TelegramSender)


async def test_long_telegram_texts_are_split_under_the_limit(telegram_api):
    sender = TelegramSender(telegram_api.token, api_base_url=telegram_api.base_url)
    text = ("A paragraph of news. " * 150 + "\n") * 2
    try:
        message_ids = await sender.send("4242", text)
    finally:
        await sender.aclose()
    parts = [m["text"] for m in telegram_api.sent_messages(4242)]
    assert message_ids == "1,2"
    assert len(parts) == 2 and all(len(p) <= 4096 for p in parts)
    assert " ".join(parts).split() == text.split()


async def test_unreachable_providers_are_transient_errors():
    closed_port = "http://127.0.0.1:9"
    senders: list[Sender] = [
        TwilioSmsSender("AC" + "0" * 32, "t", CITY_NUMBER, api_base_url=closed_port, timeout=2),
        TelegramSender("1:x", api_base_url=f"{closed_port}/bot"),
    ]
    for sender in senders:
        with pytest.raises(TransientSendError):
            await sender.send("+15555550123", "hello")


async def test_provider_refusals_are_permanent_errors(twilio_api, telegram_api):
    sms = TwilioSmsSender(
        twilio_api.account_sid, AUTH_TOKEN, CITY_NUMBER, api_base_url=twilio_api.base_url
    )
    with pytest.raises(PermanentSendError, match="21211"):
        await sms.send("not-a-number", "hello")
    bot = TelegramSender(telegram_api.token, api_base_url=telegram_api.base_url)
    try:
        with pytest.raises(PermanentSendError, match=r"(?i)chat not found"):
            await bot.send("@nobody", "hello")
    finally:
        await bot.aclose()
