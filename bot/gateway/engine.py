"""The only way the app talks to the Rasa engine: its REST channel over HTTP."""

from __future__ import annotations

from collections.abc import Mapping
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
        return [_to_outbound(item) for item in items if isinstance(item, dict)]


def _to_outbound(item: Mapping[str, Any]) -> OutboundMessage:
    text = item.get("text") or ""
    if not text and item.get("image"):
        text = str(item["image"])
    buttons = tuple(
        Button(str(b.get("title", "")), str(b.get("payload", "")))
        for b in item.get("buttons") or []
        if isinstance(b, dict)
    )
    return OutboundMessage(text=text, buttons=buttons)
