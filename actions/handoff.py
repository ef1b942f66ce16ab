"""A citizen asks for a person: record the request and say honestly what happens next."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions._crm import crm, settings
from actions.fallback import NOT_UNDERSTOOD
from bot.services.handoff import request_handoff


class RequestHuman(Action):
    def name(self) -> str:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        cfg = settings()
        user_events = [e for e in tracker.events if e.get("event") == "user"]
        previous_intent = (
            ((user_events[-2].get("parse_data") or {}).get("intent") or {}).get("name")
            if len(user_events) > 1
            else None
        )
        reason = "not_understood" if previous_intent in NOT_UNDERSTOOD else "citizen_request"
        with crm(tracker) as (session, conversation):
            outcome = request_handoff(
                session,
                conversation,
                reason=reason,
                tz=cfg.tz,
                service_key=tracker.get_slot("service"),
                category_key=tracker.get_slot("category"),
            )
            team = outcome.department_name
            if outcome.already_waiting:
                text = (
                    f"You're already in the queue for the {team} team. A member of staff "
                    "will reply here; I can keep helping in the meantime."
                )
            elif outcome.staff_available_now:
                text = (
                    f"I've passed your conversation to the {team} team. A member of staff "
                    "will read what we discussed and reply here – you won't need to repeat "
                    "yourself. Until then I can keep helping."
                )
            else:
                when = (
                    f"{outcome.next_opening:%A at %H:%M}"
                    if outcome.next_opening
                    else "their next working day"
                )
                text = (
                    f"I've passed your conversation to the {team} team. They're closed now "
                    f"and back {when}; a member of staff will reply here then. Until then "
                    "I can keep helping."
                )
        dispatcher.utter_message(text=text)
        # Channels that can put the citizen through to a person (a phone call) do so.
        dispatcher.utter_message(json_message={"handoff": True})
        return []
