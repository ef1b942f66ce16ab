"""When the assistant does not understand: rephrase once, then offer a person."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

NOT_UNDERSTOOD = {"nlu_fallback"}


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
            dispatcher.utter_message(
                text="I'm sorry, I'm still not understanding. Would you like to talk to a "
                "member of staff?",
                buttons=[
                    {"title": "Yes, a person please", "payload": "/request_human"},
                    {"title": "No, show me what you can do", "payload": "/help"},
                ],
            )
        else:
            dispatcher.utter_message(
                text="Sorry, I didn't understand that. Could you put it another way? "
                "You can ask about a service, report a problem or check a case."
            )
        return []
