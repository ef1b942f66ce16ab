"""Web chat updates: `GET /webhooks/rest/updates` hands a web citizen what was said outside their
own request/response (staff replies, queue updates), and the webhook's replies carry ids."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

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
)
from bot.runner import free_port
from bot.services import takeover
from bot.services.citizens import resolve_identity
from bot.services.conversations import current_conversation, record_outbound
from bot.services.handoff import request_handoff
from bot.services.staff import create_user
from tests.fakes.engine import FakeEngine

UPDATES = "/webhooks/rest/updates"


@dataclass
class WebChat:
    client: TestClient
    sessions: sessionmaker[Session]

    def say(self, sender: str, text: str) -> list[dict[str, Any]]:
        response = self.client.post(
            "/webhooks/rest/webhook", json={"sender": sender, "message": text}
        )
        assert response.status_code == 200, response.text
        return response.json()

    def updates(self, sender: str, after: int) -> list[dict[str, Any]]:
        response = self.client.get(UPDATES, params={"sender": sender, "after": after})
        assert response.status_code == 200, response.text
        return response.json()

    def conversation(self, session: Session, sender: str) -> Conversation:
        citizen_id = session.scalar(
            select(ChannelIdentity.citizen_id).where(ChannelIdentity.external_id == sender)
        )
        return session.scalars(
            select(Conversation).where(Conversation.citizen_id == citizen_id)
        ).one()


@pytest.fixture
def chat(sqlite_url: str) -> Iterator[WebChat]:
    with FakeEngine() as engine:
        settings = Settings(
            database_url=sqlite_url,
            rasa_url=engine.url,
            action_server_url=f"http://127.0.0.1:{free_port()}",
            engine_timeout_seconds=5,
        )
        db = make_engine(sqlite_url)
        with TestClient(create_app(settings, with_channels=False, with_outbox=False)) as client:
            yield WebChat(client, make_sessionmaker(db))
        db.dispose()


def test_webhook_replies_carry_the_ids_they_were_stored_as(chat):
    replies = chat.say("web-a", "hello")
    with transaction(chat.sessions) as session:
        stored = session.scalars(
            select(Message).where(Message.direction == Direction.OUTBOUND).order_by(Message.id)
        ).all()
    assert [(r["id"], r["text"]) for r in replies] == [(m.id, m.text) for m in stored]
    assert replies[0]["recipient_id"] == "web-a"


def test_staff_replies_and_queue_updates_arrive_after_the_cursor(chat):
    (greeting_a,) = chat.say("web-a", "hello")
    (greeting_b,) = chat.say("web-b", "hello")
    with transaction(chat.sessions) as session:
        first = chat.conversation(session, "web-a")
        second = chat.conversation(session, "web-b")
        request_handoff(session, first, reason="citizen_request")
        request_handoff(session, second, reason="citizen_request")  # second in the queue
        alice = create_user(session, "alice", "correct horse battery", display_name="Alice Example")
        takeover.claim(session, first, alice)  # b moves up: a queue update for b
        takeover.reply(session, first, alice, "Hi, I can help with that.")

    joined, reply = chat.updates("web-a", after=greeting_a["id"])
    assert joined["author"] == "system" and joined["text"].startswith("Alice from the ")
    assert reply == {
        "recipient_id": "web-a",
        "text": "Hi, I can help with that.",
        "id": reply["id"],
        "author": "staff",
        "staff_name": "Alice",  # as the citizen was introduced to her
    }
    assert chat.updates("web-a", after=joined["id"]) == [reply]
    assert chat.updates("web-a", after=reply["id"]) == []

    (queue_update,) = chat.updates("web-b", after=greeting_b["id"])
    assert queue_update["author"] == "system"
    assert queue_update["text"].startswith("Queue update: You're next")
    # Earlier lines come back too (the page skips the ids it has shown), with the bot's author.
    assert chat.updates("web-b", after=0)[0] == {**greeting_b, "author": "bot"}


def test_a_rating_question_arrives_with_its_buttons(chat):
    (greeting,) = chat.say("web-a", "hello")
    with transaction(chat.sessions) as session:
        convo = chat.conversation(session, "web-a")
        request_handoff(session, convo, reason="citizen_request")
        alice = create_user(session, "alice", "correct horse battery")
        takeover.claim(session, convo, alice)
        takeover.resolve(session, convo, alice)

    question = chat.updates("web-a", after=greeting["id"])[-1]
    assert question["author"] == "system"
    assert [b["payload"] for b in question["buttons"]] == ["1", "2", "3", "4", "5"]


def test_other_citizens_and_channels_get_nothing(chat):
    chat.say("web-a", "hello")
    with transaction(chat.sessions) as session:
        convo = chat.conversation(session, "web-a")
        takeover.take_over(session, convo, create_user(session, "alice", "correct horse battery"))
        # An SMS citizen whose number someone might try as a web sender id.
        sms = resolve_identity(session, Channel.SMS, "+15550100999")
        record_outbound(
            session,
            current_conversation(session, sms.citizen_id, Channel.SMS),
            "Your case is resolved.",
            author=AuthorKind.SYSTEM,
        )

    assert chat.updates("web-unknown", after=0) == []
    assert chat.updates("+15550100999", after=0) == []
    assert chat.updates("WEB-A", after=0) == []  # ids are exact
    assert len(chat.updates("web-a", after=0)) == 2  # the greeting and the "has joined" line


@pytest.mark.parametrize(
    "params",
    [
        {"after": "0"},
        {"sender": "", "after": "0"},
        {"sender": "   ", "after": "0"},
        {"sender": "x" * 129, "after": "0"},
        {"sender": "web-a", "after": "abc"},
        {"sender": "web-a", "after": "-1"},
        {"sender": "web-a", "after": "1.5"},
        {"sender": "web-a", "after": "١٢"},  # digits, but not ASCII ones
        {"sender": "web-a", "after": str(2**63)},
    ],
)
def test_junk_parameters_are_a_bad_request(chat, params):
    response = chat.client.get(UPDATES, params=params)
    assert response.status_code == 400
    assert response.json()["error"]


def test_only_get_is_allowed(chat):
    assert chat.client.post(UPDATES, json={"sender": "web-a"}).status_code == 405
