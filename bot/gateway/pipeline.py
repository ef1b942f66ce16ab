"""The channel-neutral message pipeline.

resolve the citizen from the channel identity → store the inbound message (idempotent on the
provider's message id) → send it to the engine with metadata → store the replies → hand them
back for the connector to render. If the engine is down or slow, the citizen gets an apology
and their message stays in the transcript, marked with the error.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from bot.db import transaction
from bot.gateway.engine import EngineClient, EngineUnavailable
from bot.models import AuthorKind, Conversation, Message
from bot.services import conversations
from bot.services.citizens import resolve_identity
from connectors.base import Button, InboundMessage, OutboundMessage

APOLOGY = OutboundMessage(
    "Sorry – I'm having technical trouble right now and can't answer. Your message has been "
    "saved; please try again in a few minutes."
)


@dataclass(frozen=True)
class _Received:
    message_id: int
    conversation_id: int
    engine_sender_id: str
    citizen_id: int
    is_new: bool
    earlier_replies: tuple[OutboundMessage, ...]


def _as_outbound(message: Message) -> OutboundMessage:
    buttons = (message.payload or {}).get("buttons") or []
    return OutboundMessage(message.text, tuple(Button(b["title"], b["payload"]) for b in buttons))


class Pipeline:
    def __init__(self, sessions: sessionmaker[Session], engine: EngineClient) -> None:
        self._sessions = sessions
        self._engine = engine

    async def handle(self, inbound: InboundMessage) -> list[OutboundMessage]:
        received = await run_in_threadpool(self._receive, inbound)
        if not received.is_new:
            return list(received.earlier_replies)
        metadata = {"channel": inbound.channel.value, "citizen_id": received.citizen_id}
        try:
            replies = await self._engine.send(received.engine_sender_id, inbound.text, metadata)
        except EngineUnavailable as exc:
            await run_in_threadpool(self._store, received, [APOLOGY], str(exc))
            return [APOLOGY]
        await run_in_threadpool(self._store, received, replies, None)
        return replies

    def _receive(self, inbound: InboundMessage) -> _Received:
        with transaction(self._sessions) as session:
            identity = resolve_identity(
                session, inbound.channel, inbound.external_user_id, name=inbound.display_name
            )
            conversation = conversations.current_conversation(
                session, identity.citizen_id, inbound.channel
            )
            message, is_new = conversations.record_inbound(
                session,
                conversation,
                inbound.text,
                provider_message_id=inbound.provider_message_id,
            )
            session.flush()
            earlier = (
                ()
                if is_new
                else tuple(_as_outbound(m) for m in conversations.replies_to(session, message))
            )
            return _Received(
                message.id,
                message.conversation_id,
                message.conversation.engine_sender_id,
                identity.citizen_id,
                is_new,
                earlier,
            )

    def _store(
        self, received: _Received, replies: list[OutboundMessage], error: str | None
    ) -> None:
        with transaction(self._sessions) as session:
            conversation = session.get(Conversation, received.conversation_id)
            if conversation is None:  # pragma: no cover - deleted mid-request
                return
            if error is not None:
                inbound = session.get(Message, received.message_id)
                if inbound is not None:
                    inbound.engine_error = error[:200]
            for reply in replies:
                payload = (
                    {"buttons": [{"title": b.title, "payload": b.payload} for b in reply.buttons]}
                    if reply.buttons
                    else None
                )
                conversations.record_outbound(
                    session,
                    conversation,
                    reply.text,
                    payload=payload,
                    author=AuthorKind.SYSTEM if error else AuthorKind.BOT,
                )
