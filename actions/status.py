"""Checking a case: ask for the number (reprompting at most twice), answer only its owner."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions._crm import clear_stray_report_slots, crm, latest_text, settings
from bot import references
from bot.services.case_status import describe_case, not_found_text, open_cases_text
from bot.services.cases import open_cases

MAX_REPROMPTS = 2
RESET = [
    SlotSet("case_number", None),
    SlotSet("case_number_attempts", 0.0),
    SlotSet("case_lookup_abandoned", None),
]


class ValidateCaseStatusForm(FormValidationAction):
    def name(self) -> str:
        return "validate_case_status_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if tracker.get_slot("case_lookup_abandoned"):
            return []
        starting = tracker.get_slot("requested_slot") is None
        if starting and tracker.get_slot("case_number") is None:
            with crm(tracker) as (session, conversation):
                if open_cases(session, conversation.citizen_id):
                    return []  # no number given: list the citizen's open cases instead
        return domain_slots

    async def validate_case_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        try:
            # The whole message first: the entity may hold only part of a spaced number.
            ref = references.find_reference(latest_text(tracker)) or references.find_reference(
                str(value or "")
            )
        except references.InvalidReference:
            ref = None
        if ref:
            return {"case_number": ref, "case_number_attempts": 0.0}
        attempts = int(tracker.get_slot("case_number_attempts") or 0) + 1
        if attempts > MAX_REPROMPTS:
            dispatcher.utter_message(
                text="I'm sorry, I still can't read a valid case number. You'll find it in the "
                "message we sent when the case was opened. You can also say "
                '"talk to a person".'
            )
            return {"case_number": None, "case_number_attempts": 0.0, "case_lookup_abandoned": True}
        dispatcher.utter_message(
            text="That doesn't look like a valid case number – one of the digits may be mistyped."
        )
        return {"case_number": None, "case_number_attempts": float(attempts)}


class CaseStatus(Action):
    def name(self) -> str:
        return "action_case_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if tracker.get_slot("case_lookup_abandoned"):
            return RESET
        ref = tracker.get_slot("case_number")
        if ref is None:
            try:
                ref = references.find_reference(latest_text(tracker))
            except references.InvalidReference:
                ref = None
        tz = settings().tz
        with crm(tracker) as (session, conversation):
            if ref and references.is_valid(ref):
                text, buttons = describe_case(session, conversation.citizen_id, ref, tz), []
                text = text or not_found_text(ref)
            else:
                text, buttons = open_cases_text(session, conversation.citizen_id, tz)
        dispatcher.utter_message(text=text, buttons=buttons)
        return [*RESET, *clear_stray_report_slots(tracker)]
