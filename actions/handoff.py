"""A person for the citizen: queue the conversation for the team of its context while that team
works, else say when it is back and offer a call-back (`actions.callback`).

`action_request_human` and the second misunderstanding in a row (`action_fallback`) both go
through `hand_off`, so there is one way in.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions._crm import crm, settings
from bot.models import utcnow
from bot.services import queue
from bot.services.handoff import Availability, Queued, availability, request_handoff

NOT_UNDERSTOOD = {"nlu_fallback"}
#: Pins the clock that decides "inside business hours?" (ISO 8601, e.g.
#: `2025-01-15T17:30:00-06:00`), so tests and the end-to-end stack do not depend on the wall
#: clock. Only the handoff actions read it; queue times and case records keep the real time.
CLOCK_ENV = "CIVICLINE_TEST_NOW"
OFFER_BUTTONS = [
    {"title": "Yes, call me back", "payload": "/affirm"},
    {"title": "No thanks", "payload": "/deny"},
]


def now() -> datetime:
    """The moment business hours are judged at: the real time unless `CLOCK_ENV` pins it."""
    pinned = os.environ.get(CLOCK_ENV, "").strip()
    if not pinned:
        return utcnow()
    moment = datetime.fromisoformat(pinned)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def the_team(name: str) -> str:
    """ "Public Works" → "the Public Works team"; the fallback "our contact centre" as it is."""
    return name if name.startswith("our ") else f"the {name} team"


def sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def back_when(status: Availability) -> str:
    """ "Monday at 09:00" (in the city's time zone)."""
    nxt = status.next_opening
    return f"{nxt:%A at %H:%M}" if nxt else "on their next working day"


def team_for(tracker: Tracker, session: Session) -> Availability:
    """Which team the conversation's context (service or case category) points to, and
    whether it is working now."""
    return availability(
        session,
        tz=settings().tz,
        service_key=tracker.get_slot("service"),
        category_key=tracker.get_slot("category"),
        now=now(),
    )


def _queued_text(queued: Queued) -> str:
    where = queue.position_text(queued.position, queued.wait_minutes)
    if queued.already_waiting:
        return (
            f"You're already in the queue for {the_team(queued.team)}. {where} A member of "
            "staff will reply here; I can keep helping in the meantime."
        )
    return (
        f"I've passed your conversation to {the_team(queued.team)}. {where} A member of staff "
        "will read our conversation so far and reply here, so you won't need to repeat "
        "yourself. Until then I can keep helping – just ask."
    )


def _closed_text(status: Availability) -> str:
    return f"{sentence(the_team(status.team))} is closed now and back {back_when(status)}."


def hand_off(
    dispatcher: CollectingDispatcher, tracker: Tracker, *, reason: str, opening: str = ""
) -> list[EventType]:
    """Queue the conversation (the team is working, or it is already waiting) and mark the
    reply `handoff`, so a phone call is put through; otherwise offer a call-back. `opening`
    goes before what is said."""
    offered = tracker.get_slot("callback_offered")
    with crm(tracker) as (session, conversation):
        status = team_for(tracker, session)
        if status.open_now or queue.open_request(session, conversation.id) is not None:
            queued = request_handoff(
                session,
                conversation,
                reason=reason,
                service_key=tracker.get_slot("service"),
                category_key=tracker.get_slot("category"),
            )
            text = _queued_text(queued)
        else:
            queued, text = None, _closed_text(status)
    if queued is not None:
        dispatcher.utter_message(text=opening + text)
        # Channels that can put the citizen through to a person (a phone call) do so.
        dispatcher.utter_message(json_message={"handoff": True})
        return [SlotSet("callback_offered", None)] if offered else []
    if tracker.active_loop:
        # Mid-form the next message answers the form, so no offer that it would swallow.
        dispatcher.utter_message(
            text=f"{opening}{text} Once we've finished here, ask for a person again and I can "
            "arrange a call-back."
        )
        return [SlotSet("callback_offered", None)] if offered else []
    dispatcher.utter_message(
        text=f"{opening}{text} Would you like them to call you back then?",
        buttons=OFFER_BUTTONS,
    )
    return [SlotSet("callback_offered", True)]


def previous_intent(tracker: Tracker) -> str | None:
    user_events = [e for e in tracker.events if e.get("event") == "user"]
    if len(user_events) < 2:
        return None
    return ((user_events[-2].get("parse_data") or {}).get("intent") or {}).get("name")


class RequestHuman(Action):
    def name(self) -> str:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        reason = (
            "not_understood" if previous_intent(tracker) in NOT_UNDERSTOOD else "citizen_request"
        )
        return hand_off(dispatcher, tracker, reason=reason)
