"""The channel-neutral message pipeline.

resolve the citizen from the channel identity → store the inbound message (idempotent on the
provider's message id) → send it to the engine with metadata → store the replies → hand them
back for the connector to render or send. If the engine is down or slow, the citizen gets an
apology and their message stays in the transcript, marked with the error.

A few things are answered here without the engine: channel keywords (STOP/START/HELP), a
shared phone number (which links the citizen across channels) and the answer to an open rating
question (`bot.services.feedback`). Every reply handed back carries the id it was stored as.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from bot.db import transaction
from bot.gateway.engine import EngineClient, EngineUnavailable
from bot.models import (
    AuthorKind,
    ChannelIdentity,
    Conversation,
    ConversationState,
    Message,
)
from bot.services import conversations, feedback
from bot.services.channel_commands import apply_command
from bot.services.citizens import link_phone, resolve_identity
from connectors.base import Button, Command, InboundMessage, OutboundMessage

APOLOGY = OutboundMessage(
    "Sorry – I'm having technical trouble right now and can't answer. Your message has been "
    "saved; please try again in a few minutes."
)
PHONE_LINKED = OutboundMessage(
    "Thank you – your phone number is now linked. I'll recognise you when you text or call "
    "from it, and you can follow your cases on any channel."
)


@dataclass(frozen=True)
class _Received:
    message_id: int
    conversation_id: int
    engine_sender_id: str
    citizen_id: int
    is_new: bool
    engine_text: str | None  # None: answered without the engine (or a person owns it)
    replies: tuple[OutboundMessage, ...]  # earlier replies (redelivery) or direct ones


def as_outbound(message: Message) -> OutboundMessage:
    """A stored outbound line as a reply (with its id), e.g. to answer a redelivery again."""
    payload = message.payload or {}
    buttons = tuple(Button(b["title"], b["payload"]) for b in payload.get("buttons") or [])
    return OutboundMessage(
        message.text, buttons, handoff=bool(payload.get("handoff")), message_id=message.id
    )


def _engine_text(session: Session, conversation: Conversation, inbound: InboundMessage) -> str:
    """What the engine should read: a chosen button's payload, a location, or the text."""
    if inbound.choice is not None:
        choices = conversations.last_choices(session, conversation)
        if 1 <= inbound.choice <= len(choices):
            chosen = choices[inbound.choice - 1]
            # A channel that names the pressed button (Telegram) may be answering an older
            # list; then its text, not the newest list, says what was meant.
            stale = not inbound.text.isdigit() and inbound.text != chosen["title"]
            if not stale:
                return chosen["payload"]
    if inbound.location is not None:
        lat, lon = inbound.location
        place = f"{lat:.5f}, {lon:.5f} (shared location)"
        return "/inform" + json.dumps({"location": place}, separators=(",", ":"))
    return inbound.text


def _rating_answer(inbound: InboundMessage) -> tuple[str, int | None]:
    """What the message says in answer to an open rating question, as (text, choice).

    The question's own buttons (`feedback.BUTTONS`, payloads "1".."5") are numbered 1–5 by
    themselves wherever it is shown – the outbox renders each message alone, as numbered SMS
    lines or a Telegram keyboard – and the question is the latest thing the citizen was asked.
    So a choice is resolved against *its* buttons, not `last_choices`: a question sent after a
    case was resolved is not in the transcript, and an SMS "2" must not pick an older bot
    button. A Telegram press names its button; a title that is not the question's (a press on
    an older keyboard) is no rating."""
    if inbound.choice is not None and 1 <= inbound.choice <= len(feedback.BUTTONS):
        button = feedback.BUTTONS[inbound.choice - 1]
        if inbound.text.strip().isdigit() or inbound.text == button["title"]:
            return button["payload"], inbound.choice
    return inbound.text, None


@dataclass(frozen=True)
class Handled:
    """The replies to one inbound message (each with the `message_id` it was stored as);
    `duplicate` when it was a redelivery (already answered: an asynchronous channel must not
    send the replies again)."""

    replies: list[OutboundMessage]
    duplicate: bool = False
    engine_ms: float = 0.0  # time spent waiting for the engine (the rest is the gateway's own)


def _applies(command: Command, identity: ChannelIdentity) -> bool:
    """START (and its synonym YES) only means "opt back in" to someone who opted out; from
    anybody else "yes" is an answer for the assistant (e.g. confirming a report)."""
    return command is not Command.START or identity.opted_out_at is not None


class Pipeline:
    def __init__(self, sessions: sessionmaker[Session], engine: EngineClient) -> None:
        self._sessions = sessions
        self._engine = engine

    @property
    def sessions(self) -> sessionmaker[Session]:
        """The CRM session factory, for channels that record things of their own."""
        return self._sessions

    async def handle(self, inbound: InboundMessage) -> Handled:
        received = await run_in_threadpool(self._receive, inbound)
        if not received.is_new or received.engine_text is None:
            return Handled(list(received.replies), duplicate=not received.is_new)
        metadata = {"channel": inbound.channel.value, "citizen_id": received.citizen_id}
        started = time.perf_counter()
        try:
            replies = await self._engine.send(
                received.engine_sender_id, received.engine_text, metadata
            )
        except EngineUnavailable as exc:
            stored = await run_in_threadpool(self._store, received, [APOLOGY], str(exc))
            return Handled(stored)
        engine_ms = (time.perf_counter() - started) * 1000
        stored = await run_in_threadpool(self._store, received, replies, None)
        return Handled(stored, engine_ms=engine_ms)

    def _receive(self, inbound: InboundMessage) -> _Received:
        with transaction(self._sessions) as session:
            identity = resolve_identity(
                session, inbound.channel, inbound.external_user_id, name=inbound.display_name
            )
            direct: OutboundMessage | None = None
            if inbound.verified_phone:
                link_phone(session, identity, inbound.verified_phone)
                direct = PHONE_LINKED
            elif inbound.command is not None and _applies(inbound.command, identity):
                direct = OutboundMessage(apply_command(identity, inbound.command))
            conversation = conversations.current_conversation(
                session, identity.citizen_id, inbound.channel
            )
            # While a person owns the conversation the engine hears nothing of it.
            with_staff = conversation.state is ConversationState.WITH_STAFF
            engine_text = None if with_staff else _engine_text(session, conversation, inbound)
            message, is_new = conversations.record_inbound(
                session,
                conversation,
                inbound.text,
                provider_message_id=inbound.provider_message_id,
            )
            session.flush()
            if is_new and not with_staff:
                # An open rating question is settled by this message, whatever it is: a rating
                # is stored and thanked for (the engine never sees it), anything else closes
                # the question and goes on as usual.
                text, choice = _rating_answer(inbound)
                thanks = feedback.take_answer(
                    session, identity.citizen_id, inbound.channel, text, choice=choice
                )
                if thanks is not None and direct is None:
                    direct = OutboundMessage(thanks)
            if not is_new:
                replies = tuple(as_outbound(m) for m in conversations.replies_to(session, message))
            elif direct is not None:
                stored = conversations.record_outbound(
                    session, conversation, direct.text, author=AuthorKind.SYSTEM
                )
                session.flush()
                replies = (replace(direct, message_id=stored.id),)
            else:
                replies = ()
            return _Received(
                message.id,
                message.conversation_id,
                conversation.engine_sender_id,
                identity.citizen_id,
                is_new,
                None if direct is not None else engine_text,
                replies,
            )

    def _store(
        self, received: _Received, replies: list[OutboundMessage], error: str | None
    ) -> list[OutboundMessage]:
        """Store the replies; return them with the ids they were stored as."""
        with transaction(self._sessions) as session:
            conversation = session.get(Conversation, received.conversation_id)
            if conversation is None:  # pragma: no cover - deleted mid-request
                return list(replies)
            if error is not None:
                inbound = session.get(Message, received.message_id)
                if inbound is not None:
                    inbound.engine_error = error[:200]
            rows: list[Message] = []
            for reply in replies:
                payload: dict[str, object] = {}
                if reply.buttons:
                    payload["buttons"] = [
                        {"title": b.title, "payload": b.payload} for b in reply.buttons
                    ]
                if reply.handoff:
                    payload["handoff"] = True
                rows.append(
                    conversations.record_outbound(
                        session,
                        conversation,
                        reply.text,
                        payload=payload or None,
                        author=AuthorKind.SYSTEM if error else AuthorKind.BOT,
                    )
                )
            session.flush()
            return [
                replace(reply, message_id=row.id) for reply, row in zip(replies, rows, strict=True)
            ]
