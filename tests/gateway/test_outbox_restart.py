"""Nothing said to a citizen is lost across a gateway restart: a staff reply queued while the
gateway is down is sent by the outbox worker of the next gateway (started by its lifespan)."""

from __future__ import annotations

import time

from sqlalchemy import select
from starlette.testclient import TestClient

from bot.config import Settings
from bot.db import make_engine, make_sessionmaker, transaction
from bot.gateway import create_app
from bot.models import Channel, Notification, NotificationStatus
from bot.runner import free_port
from bot.services import takeover
from bot.services.citizens import resolve_identity
from bot.services.conversations import current_conversation
from bot.services.handoff import request_handoff
from bot.services.staff import create_user
from tests.fakes.twilio_api import FakeTwilioApi

CITIZEN = "+15550100555"


def test_a_reply_queued_while_the_gateway_is_down_is_sent_after_a_restart(sqlite_url):
    with FakeTwilioApi(auth_token="restart-token") as twilio:
        settings = Settings(
            database_url=sqlite_url,
            rasa_url=f"http://127.0.0.1:{free_port()}",
            action_server_url=f"http://127.0.0.1:{free_port()}",
            twilio_account_sid=twilio.account_sid,
            twilio_auth_token="restart-token",
            twilio_number="+15550100000",
            twilio_api_base_url=twilio.base_url,
            outbox_poll_seconds=0.05,
        )
        with TestClient(create_app(settings, with_channels=False)):
            pass  # a gateway ran, and stopped

        db = make_engine(sqlite_url)
        sessions = make_sessionmaker(db)
        with transaction(sessions) as session:  # staff act while no gateway runs
            identity = resolve_identity(session, Channel.SMS, CITIZEN)
            conversation = current_conversation(session, identity.citizen_id, Channel.SMS)
            request_handoff(session, conversation, reason="citizen_request")
            bob = create_user(session, "bob", "correct horse battery", display_name="Bob B")
            takeover.claim(session, conversation, bob)
            takeover.reply(session, conversation, bob, "Your permit is ready for collection.")
        with transaction(sessions) as session:
            queued = session.scalars(select(Notification.status)).all()
        assert queued == [NotificationStatus.PENDING] * 2
        assert twilio.messages == []

        with TestClient(create_app(settings, with_channels=False)):  # the next gateway
            deadline = time.monotonic() + 10
            while len(twilio.sent_messages(CITIZEN)) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)

        bodies = [m["Body"] for m in twilio.sent_messages(CITIZEN)]
        assert bodies[-1] == "Your permit is ready for collection."
        assert len(bodies) == 2
        with transaction(sessions) as session:
            assert (
                session.scalars(select(Notification.status)).all() == [NotificationStatus.SENT] * 2
            )
        db.dispose()
