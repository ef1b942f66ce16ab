"""The channel-neutral messages and the protocol every connector follows.

A connector verifies and parses an inbound request into `InboundMessage`s, and renders the
assistant's `OutboundMessage`s for its channel. It knows nothing about cases or queues.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response

from bot.models import Channel


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True)
class InboundMessage:
    """What a citizen sent, whatever the channel. `raw` keeps the provider's own data aside."""

    channel: Channel
    external_user_id: str
    text: str
    provider_message_id: str | None = None
    display_name: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OutboundMessage:
    """What the assistant (or staff) says back."""

    text: str
    buttons: tuple[Button, ...] = ()


class RejectedRequest(Exception):
    """The request is not acceptable; `status` and `detail` say why (nothing is stored)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class Connector(Protocol):
    channel: Channel

    async def parse(self, request: Request) -> Sequence[InboundMessage]:
        """Verify and parse the request; raise RejectedRequest if it is not acceptable."""
        ...

    def render(self, inbound: InboundMessage, replies: Sequence[OutboundMessage]) -> Response:
        """The HTTP response the channel expects for these replies."""
        ...
