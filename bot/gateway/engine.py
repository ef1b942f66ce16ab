"""The only way the app talks to the Rasa engine: its REST channel over HTTP."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import httpx

from connectors.base import Button, OutboundMessage


class EngineUnavailable(Exception):
    """The engine did not answer in time or answered with an error."""


class EngineClient:
    def __init__(self, client: httpx.AsyncClient, base_url: str, timeout: float) -> None:
        self._client = client
        self._url = base_url.rstrip("/") + "/webhooks/rest/webhook"
        self._timeout = timeout

    async def send(
        self, sender_id: str, text: str, metadata: Mapping[str, Any]
    ) -> list[OutboundMessage]:
        body = {"sender": sender_id, "message": text, "metadata": dict(metadata)}
        try:
            response = await self._client.post(self._url, json=body, timeout=self._timeout)
        except httpx.HTTPError as exc:
            raise EngineUnavailable(type(exc).__name__) from exc
        if response.status_code != httpx.codes.OK:
            raise EngineUnavailable(f"HTTP {response.status_code}")
        try:
            items = response.json()
        except ValueError as exc:
            raise EngineUnavailable("invalid JSON") from exc
        return _to_outbound([item for item in items if isinstance(item, dict)])


def _to_outbound(items: list[Mapping[str, Any]]) -> list[OutboundMessage]:
    """Rasa's REST output → our messages. A `{"custom": {"handoff": true}}` item (sent by
    `action_request_human`) marks the message before it as a handoff."""
    out: list[OutboundMessage] = []
    for item in items:
        custom = item.get("custom")
        if isinstance(custom, dict) and custom.get("handoff") and not item.get("text"):
            if out:
                out[-1] = replace(out[-1], handoff=True)
            else:
                out.append(OutboundMessage("", handoff=True))
            continue
        text = item.get("text") or (str(item["image"]) if item.get("image") else "")
        buttons = tuple(
            Button(str(b.get("title", "")), str(b.get("payload", "")))
            for b in item.get("buttons") or []
            if isinstance(b, dict)
        )
        if text or buttons:
            out.append(OutboundMessage(text=text, buttons=buttons))
    return out
