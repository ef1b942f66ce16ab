"""Web chat: exactly the payloads of Rasa's REST channel, so existing Rasa widgets work.

In:  `{"sender": "<id>", "message": "<text>", "metadata": {"name": "..."}}` (metadata optional)
Out: `[{"recipient_id": "<id>", "text": "...", "buttons": [{"title", "payload"}]}, ...]`, each
     item also with `"id"`, the transcript line it was stored as (an extra field, which Rasa
     widgets ignore; our chat page uses it to show a line only once – lines said outside this
     request/response, like staff replies, come from `GET /webhooks/rest/updates`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.models import Channel
from connectors.base import InboundMessage, OutboundMessage, RejectedRequest

MAX_TEXT = 4000
MAX_SENDER = 128


class WebConnector:
    channel = Channel.WEB

    async def parse(self, request: Request) -> Sequence[InboundMessage]:
        try:
            body: Any = json.loads(await request.body() or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise RejectedRequest(400, "the body must be JSON") from exc
        if not isinstance(body, dict):
            raise RejectedRequest(400, 'expected a JSON object {"sender", "message"}')
        sender, text = body.get("sender"), body.get("message")
        if not isinstance(sender, str) or not sender.strip() or len(sender) > MAX_SENDER:
            raise RejectedRequest(
                400, f"'sender' must be a non-empty string of at most {MAX_SENDER} characters"
            )
        if not isinstance(text, str) or not text.strip():
            raise RejectedRequest(400, "'message' must be a non-empty string")
        if len(text) > MAX_TEXT:
            raise RejectedRequest(413, f"'message' is longer than {MAX_TEXT} characters")
        metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
        name = metadata.get("name") if isinstance(metadata.get("name"), str) else None
        return [
            InboundMessage(
                channel=self.channel,
                external_user_id=sender.strip(),
                text=text.strip(),
                provider_message_id=metadata.get("message_id")
                if isinstance(metadata.get("message_id"), str)
                else None,
                display_name=(name or "").strip()[:200] or None,
                raw=body,
            )
        ]

    def render(self, inbound: InboundMessage, replies: Sequence[OutboundMessage]) -> Response:
        return JSONResponse([rest_item(inbound.external_user_id, reply) for reply in replies])


def rest_item(recipient_id: str, reply: OutboundMessage) -> dict[str, Any]:
    """One reply in the REST channel's format, with its transcript id when it has one."""
    item: dict[str, Any] = {"recipient_id": recipient_id, "text": reply.text}
    if reply.buttons:
        item["buttons"] = [{"title": b.title, "payload": b.payload} for b in reply.buttons]
    if reply.message_id is not None:
        item["id"] = reply.message_id
    return item
