"""Channel connectors: each translates one channel's protocol to channel-neutral messages."""

from connectors.base import (
    AsyncConnector,
    Button,
    Command,
    Connector,
    InboundMessage,
    OutboundMessage,
    RejectedRequest,
)

__all__ = [
    "AsyncConnector",
    "Button",
    "Command",
    "Connector",
    "InboundMessage",
    "OutboundMessage",
    "RejectedRequest",
]
