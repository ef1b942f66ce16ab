"""Web chat updates: what was said to a web citizen outside the request/response of their own
message – staff replies, queue updates, rating questions – for the chat page to poll.

`GET /webhooks/rest/updates?sender=<id>&after=<message id>` (`after` defaults to 0) answers
the outbound lines of that sender's web conversations with a larger id, oldest first (at most
`LIMIT`; ask again with the last id for more), in the REST channel's format plus `id`, `author`
("bot", "staff" or "system") and, for staff, `staff_name` (the first name, as the citizen was
introduced to them). Bad parameters are a 400 with a JSON error.
The bot's own replies are included too: the page shows each id once. An unknown sender gets an
empty list – the same answer as a sender with nothing new – so the endpoint tells nobody which
senders exist; the sender id is the web citizen's bearer secret, as for the webhook.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from bot.db import transaction
from bot.gateway.pipeline import as_outbound
from bot.models import AuthorKind, Channel, ChannelIdentity, Conversation, Direction, Message
from connectors.web import MAX_SENDER, rest_item

LIMIT = 100
MAX_ID = 2**63 - 1  # the largest id any supported database stores
_AUTHORS = {AuthorKind.BOT: "bot", AuthorKind.STAFF: "staff", AuthorKind.SYSTEM: "system"}


def updates_for(session: Session, sender: str, after: int, limit: int = LIMIT) -> list[Message]:
    """The outbound lines of `sender`'s web conversations after message `after`, oldest first."""
    citizen_id = session.scalar(
        select(ChannelIdentity.citizen_id).where(
            ChannelIdentity.channel == Channel.WEB, ChannelIdentity.external_id == sender
        )
    )
    if citizen_id is None:
        return []
    return list(
        session.scalars(
            select(Message)
            .join(Conversation, Message.conversation_id == Conversation.id)
            .where(
                Conversation.citizen_id == citizen_id,
                Conversation.channel == Channel.WEB,
                Message.direction == Direction.OUTBOUND,
                Message.id > after,
            )
            .order_by(Message.id)
            .limit(limit)
        )
    )


def update_item(sender: str, message: Message) -> dict[str, Any]:
    item = rest_item(sender, as_outbound(message))
    item["author"] = _AUTHORS.get(message.author_kind, "system")
    if message.author_kind is AuthorKind.STAFF:
        name = str((message.payload or {}).get("staff_name") or "").strip()
        item["staff_name"] = name.split()[0] if name else "Staff"
    return item


def _bad(detail: str) -> JSONResponse:
    return JSONResponse({"error": detail}, status_code=400)


async def updates_endpoint(request: Request) -> JSONResponse:
    sender = request.query_params.get("sender", "").strip()
    if not sender or len(sender) > MAX_SENDER:
        return _bad(f"'sender' must be a non-empty string of at most {MAX_SENDER} characters")
    after_param = request.query_params.get("after", "0").strip()
    if not (after_param.isascii() and after_param.isdigit()) or int(after_param) > MAX_ID:
        return _bad("'after' must be a message id (a whole number, 0 or more)")
    after = int(after_param)
    sessions = request.app.state.pipeline.sessions

    def read() -> list[dict[str, Any]]:
        with transaction(sessions) as session:
            return [update_item(sender, m) for m in updates_for(session, sender, after)]

    items = await run_in_threadpool(read)
    return JSONResponse(items, headers={"Cache-Control": "no-store"})
