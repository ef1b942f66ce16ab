"""When the assistant does not understand: rephrase once; the second time in a row, a person."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import NOT_UNDERSTOOD, hand_off


def consecutive_misunderstandings(tracker: Tracker) -> int:
    """How many of the latest user messages in a row were not understood."""
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent not in NOT_UNDERSTOOD:
            break
        count += 1
    return max(count, 1)


class Fallback(Action):
    def name(self) -> str:
        return "action_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if consecutive_misunderstandings(tracker) >= 2:
            return hand_off(
                dispatcher,
                tracker,
                reason="not_understood",
                opening="Sorry, I still didn't understand that. ",
            )
        dispatcher.utter_message(
            text="Sorry, I didn't understand that. Could you put it another way? "
            "You can ask about a service, report a problem or check a case."
        )
        # An earlier call-back offer is not answered by whatever comes next.
        return [SlotSet("callback_offered", None)] if tracker.get_slot("callback_offered") else []
