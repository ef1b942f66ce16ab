"""Channel connectors: each translates one channel's protocol to channel-neutral messages."""

from connectors.base import Button, Connector, InboundMessage, OutboundMessage, RejectedRequest

__all__ = ["Button", "Connector", "InboundMessage", "OutboundMessage", "RejectedRequest"]
