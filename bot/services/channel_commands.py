"""Channel keywords (STOP, START, HELP) answered by the CRM itself, never by the engine."""

from __future__ import annotations

from bot.models import ChannelIdentity
from bot.services.citizens import set_opted_out
from connectors.base import Command

REPLIES = {
    Command.STOP: "You're unsubscribed: the city will send no more messages to this number. "
    "Reply START to subscribe again.",
    Command.START: "You're subscribed again. Ask me about city services, report a problem or "
    "check a case at any time.",
    Command.HELP: "This is the city's service assistant. Text your question, e.g. \"report a "
    'pothole" or "status 1234-5678". Reply STOP to opt out. Msg&data rates may apply.',
}


def apply_command(identity: ChannelIdentity, command: Command) -> str:
    """Record the command's effect on this identity and return the reply to send."""
    if command is Command.STOP:
        set_opted_out(identity, True)
    elif command is Command.START:
        set_opted_out(identity, False)
    return REPLIES[command]
