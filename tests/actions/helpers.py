"""Builders for action tests: rasa-sdk trackers as Rasa 3.6 sends them, and a CRM handle."""

from __future__ import annotations

from typing import Any

import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot import REPO_ROOT
from bot.db import make_engine, make_sessionmaker, transaction
from bot.models import Channel
from bot.services import conversations
from bot.services.citizens import resolve_identity

DOMAIN: dict[str, Any] = yaml.safe_load((REPO_ROOT / "domain.yml").read_text())

# Moments for the `clock` fixture (the handoff actions judge business hours at it).
#: A Wednesday morning in Riverton (America/Chicago): every team works.
OPEN = "2025-01-15T10:00:00-06:00"
#: A Saturday evening: Public Works is back Monday at 08:00, 311 Customer Service at 07:00.
CLOSED = "2025-01-18T20:00:00-06:00"


class CRM:
    """Direct access to the test database, to arrange data and check what actions wrote."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.sessions = make_sessionmaker(self.engine)

    def session(self):  # type: ignore[no-untyped-def]
        return transaction(self.sessions)

    def sender_for(
        self, external_id: str, name: str | None = None, channel: Channel = Channel.WEB
    ) -> str:
        """Create a citizen + conversation (web unless said); return the engine sender id.
        SMS and voice external ids are phone numbers, which become the citizen's phone."""
        with self.session() as s:
            identity = resolve_identity(s, channel, external_id, name=name)
            return conversations.current_conversation(
                s, identity.citizen_id, channel
            ).engine_sender_id

    def citizen_of(self, sender: str) -> int:
        with self.session() as s:
            convo = conversations.by_sender(s, sender)
            assert convo is not None
            return convo.citizen_id


def tracker(
    sender: str,
    text: str = "",
    intent: str = "inform",
    entities: list[dict[str, Any]] | None = None,
    slots: dict[str, Any] | None = None,
    active_loop: str | None = None,
    events: list[dict[str, Any]] | None = None,
    slot_candidates: dict[str, Any] | None = None,
) -> Tracker:
    """A rasa-sdk Tracker as Rasa 3.6 sends it after the user said `text`.

    `slot_candidates` are the SlotSet events Rasa appends after extraction, which a form's
    validation action then validates.
    """
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.99},
        "entities": entities or [],
    }
    history = list(events or [])
    history.append({"event": "user", "text": text, "parse_data": latest})
    history.extend(
        {"event": "slot", "name": k, "value": v} for k, v in (slot_candidates or {}).items()
    )
    all_slots = {name: spec.get("initial_value") for name, spec in DOMAIN["slots"].items()}
    all_slots["requested_slot"] = None
    all_slots.update(slots or {})
    all_slots.update(slot_candidates or {})
    return Tracker(
        sender,
        all_slots,
        latest,
        history,
        False,
        None,
        {"name": active_loop} if active_loop else {},
        "action_listen",
    )


def entity(name: str, value: str) -> dict[str, Any]:
    return {"entity": name, "value": value, "start": 0, "end": len(value)}


async def run(action: Any, t: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run an action; return (events, messages the dispatcher collected)."""
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, t, DOMAIN)
    return events, dispatcher.messages


def slot_events(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
