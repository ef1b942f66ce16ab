"""The channel-neutral messages and the protocol every connector follows.

A connector verifies and parses an inbound request into `InboundMessage`s, and renders the
assistant's `OutboundMessage`s for its channel. It knows nothing about cases or queues.
"""

from __future__ import annotations

import enum
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


class Command(enum.StrEnum):
    """Channel keywords handled by the gateway itself, never by the engine."""

    STOP = "stop"  # opt out of messages on this channel
    START = "start"  # opt back in
    HELP = "help"  # what this number is and how to opt out


@dataclass(frozen=True)
class InboundMessage:
    """What a citizen sent, whatever the channel. `raw` keeps the provider's own data aside.

    `choice` is a bare number that may answer the last list of buttons (SMS, phone keypad);
    `verified_phone` is a phone number the channel vouches belongs to the sender (a Telegram
    contact whose user id is the sender's own, the caller id of an SMS or call);
    `location` is a shared (latitude, longitude).
    """

    channel: Channel
    external_user_id: str
    text: str
    provider_message_id: str | None = None
    display_name: str | None = None
    choice: int | None = None
    verified_phone: str | None = None
    location: tuple[float, float] | None = None
    command: Command | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OutboundMessage:
    """What the assistant (or staff) says back. `handoff` asks the channel to put the citizen
    through to a person where it can (a phone call is transferred). `message_id` is the
    transcript line it was stored as, once stored (web chat shows it, to dedupe; it takes no
    part in comparisons)."""

    text: str
    buttons: tuple[Button, ...] = ()
    handoff: bool = False
    message_id: int | None = field(default=None, compare=False)


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


class AsyncConnector(Connector, Protocol):
    """A channel whose replies are sent by API call rather than in the webhook response."""

    async def send(self, inbound: InboundMessage, replies: Sequence[OutboundMessage]) -> None:
        """Deliver the replies (raises on a provider error)."""
        ...
