"""While a person owns a conversation the engine receives nothing; handing back resumes it."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from bot.db import make_engine, make_sessionmaker, transaction
from bot.gateway.engine import EngineClient
from bot.gateway.pipeline import Pipeline
from bot.models import Channel, Conversation, ConversationState, HandoffRequest, Message, StaffUser
from bot.services.handoff import request_handoff
from bot.services.staff import create_user
from bot.services.takeover import HANDED_BACK, TakeoverError, claim, hand_back, take_over
from connectors.base import InboundMessage
from tests.fakes.engine import FakeEngine


@pytest.fixture
async def setup(sqlite_url):
    db = make_engine(sqlite_url)
    with FakeEngine() as engine:
        async with httpx.AsyncClient() as http:
            yield Pipeline(make_sessionmaker(db), EngineClient(http, engine.url, 5.0)), engine
    db.dispose()


def text(body: str, sid: str) -> InboundMessage:
    return InboundMessage(Channel.SMS, "+15550124000", body, provider_message_id=sid)


def conversation_of(pipeline: Pipeline) -> Conversation:
    with transaction(pipeline.sessions) as session:
        return session.scalars(select(Conversation)).one()


async def test_engine_hears_nothing_while_staff_own_the_conversation(setup):
    pipeline, engine = setup
    assert (await pipeline.handle(text("hello", "SM1"))).replies
    with transaction(pipeline.sessions) as session:
        convo = session.scalars(select(Conversation)).one()
        request_handoff(session, convo, reason="citizen_request")
        claim(session, convo, create_user(session, "alice", "correct horse battery"))

    handled = await pipeline.handle(text("my bin was missed again", "SM2"))
    assert handled.replies == []
    assert engine.texts == ["hello"]  # the second message never reached the engine
    with transaction(pipeline.sessions) as session:
        kept = session.scalar(select(Message).where(Message.text == "my bin was missed again"))
        assert kept is not None  # but it is in the transcript, for the member of staff

    with transaction(pipeline.sessions) as session:
        convo = session.get(Conversation, conversation_of(pipeline).id)
        alice = session.scalars(select(StaffUser)).one()
        hand_back(session, convo, alice)
        assert session.scalar(select(HandoffRequest.resolved_at)) is not None
        assert convo.messages[-1].text == HANDED_BACK
    await pipeline.handle(text("thanks", "SM3"))
    assert engine.texts == ["hello", "thanks"]
    assert conversation_of(pipeline).state is ConversationState.BOT


async def test_only_an_owned_conversation_can_be_handed_back(setup):
    pipeline, _ = setup
    await pipeline.handle(text("hello", "SM1"))
    with transaction(pipeline.sessions) as session:
        convo = session.scalars(select(Conversation)).one()
        bob = create_user(session, "bob", "correct horse battery")
        with pytest.raises(TakeoverError):
            hand_back(session, convo, bob)
        convo.state = ConversationState.CLOSED
        with pytest.raises(TakeoverError):
            take_over(session, convo, bob)


async def test_a_restart_during_a_handoff_loses_nothing(sqlite_url):
    """Queue, ownership and transcript live in the database: a new gateway process (a new
    engine, pipeline and connection pool) carries on where the old one stopped."""
    first_db = make_engine(sqlite_url)
    with FakeEngine() as engine:
        async with httpx.AsyncClient() as http:
            before = Pipeline(make_sessionmaker(first_db), EngineClient(http, engine.url, 5.0))
            await before.handle(text("hello", "SM1"))
            with transaction(before.sessions) as session:
                waiting = session.scalars(select(Conversation)).one()
                request_handoff(session, waiting, reason="citizen_request")
                claim(session, waiting, create_user(session, "alice", "correct horse battery"))
    first_db.dispose()  # the gateway stops

    second_db = make_engine(sqlite_url)
    with FakeEngine() as engine:
        async with httpx.AsyncClient() as http:
            after = Pipeline(make_sessionmaker(second_db), EngineClient(http, engine.url, 5.0))
            handled = await after.handle(text("are you still there?", "SM2"))
            assert handled.replies == [] and engine.texts == []  # the person still owns it
            with transaction(after.sessions) as session:
                convo = session.get(Conversation, waiting.id)
                assert convo.state is ConversationState.WITH_STAFF
                assert [m.text for m in convo.messages if m.author_kind.value == "citizen"] == [
                    "hello",
                    "are you still there?",
                ]
                request = session.scalar(select(HandoffRequest))
                assert request.claimed_by_id is not None and request.resolved_at is None
    second_db.dispose()
