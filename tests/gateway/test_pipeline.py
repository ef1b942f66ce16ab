"""Pipeline rules that hold for every channel: keywords, numbered choices, linking a phone."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from bot.db import make_engine, make_sessionmaker, transaction
from bot.gateway.engine import EngineClient
from bot.gateway.pipeline import APOLOGY, PHONE_LINKED, Pipeline, _engine_text
from bot.models import Channel, ChannelIdentity
from bot.runner import free_port
from bot.services import conversations
from bot.services.channel_commands import REPLIES
from bot.services.citizens import resolve_identity
from connectors.base import Command, InboundMessage


@pytest.fixture
async def pipeline(sqlite_url):
    engine = make_engine(sqlite_url)
    async with httpx.AsyncClient() as http:
        # Nothing listens on this port: every message that reaches the engine gets the apology.
        yield Pipeline(
            make_sessionmaker(engine), EngineClient(http, f"http://127.0.0.1:{free_port()}", 2.0)
        )
    engine.dispose()


def sms(text: str, sid: str, command: Command | None = None) -> InboundMessage:
    return InboundMessage(
        Channel.SMS, "+15550123456", text, provider_message_id=sid, command=command
    )


async def test_yes_only_means_start_to_someone_who_opted_out(pipeline):
    confirm = await pipeline.handle(sms("yes", "SM1", Command.START))
    assert confirm.replies == [APOLOGY]  # went to the engine: an answer, not a keyword
    stop = await pipeline.handle(sms("STOP", "SM2", Command.STOP))
    assert stop.replies[0].text == REPLIES[Command.STOP]
    again = await pipeline.handle(sms("yes", "SM3", Command.START))
    assert again.replies[0].text == REPLIES[Command.START]
    with transaction(pipeline.sessions) as session:
        identity = session.scalars(select(ChannelIdentity)).one()
        assert identity.opted_out_at is None


async def test_a_bare_number_answers_the_last_buttons(pipeline):
    with transaction(pipeline.sessions) as session:
        identity = resolve_identity(session, Channel.SMS, "+15550123456")
        convo = conversations.current_conversation(session, identity.citizen_id, Channel.SMS)
        conversations.record_outbound(
            session,
            convo,
            "Shall I send it?",
            payload={
                "buttons": [
                    {"title": "Yes", "payload": "/affirm"},
                    {"title": "No", "payload": "/deny"},
                ]
            },
        )
    with transaction(pipeline.sessions) as session:
        convo = conversations.current_conversation(session, identity.citizen_id, Channel.SMS)
        chosen = _engine_text(
            session, convo, InboundMessage(Channel.SMS, "+15550123456", "2", choice=2)
        )
        out_of_range = _engine_text(
            session, convo, InboundMessage(Channel.SMS, "+15550123456", "7", choice=7)
        )
    assert chosen == "/deny"
    assert out_of_range == "7"


async def test_sharing_ones_own_phone_joins_the_sms_citizen(pipeline):
    await pipeline.handle(sms("hello", "SM9"))
    linked = await pipeline.handle(
        InboundMessage(
            Channel.TELEGRAM, "4242", "", provider_message_id="tg1", verified_phone="+15550123456"
        )
    )
    assert linked.replies == [PHONE_LINKED]
    with transaction(pipeline.sessions) as session:
        owners = {i.channel: i.citizen_id for i in session.scalars(select(ChannelIdentity))}
    assert owners[Channel.TELEGRAM] == owners[Channel.SMS]
