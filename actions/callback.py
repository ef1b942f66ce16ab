"""Call-backs when the team is closed: the offer's answers and the call-back form.

The form asks for a phone number only when the citizen has none on record (SMS, voice and a
Telegram-shared contact give one), reprompts at most twice, then gives up politely.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions._crm import crm, latest_intent, latest_text, settings
from actions.handoff import back_when, sentence, team_for, the_team
from bot import phones, references
from bot.services.handoff import request_callback

MAX_REPROMPTS = 2
# Intents that interrupt the phone question rather than answer it (rules handle them); a
# message with a phone number in it is an answer whatever its intent.
NOT_A_PHONE = {"cancel", "deny", "request_human", "help", "ask_service_info"}
RESET = [
    SlotSet("callback_offered", None),
    SlotSet("callback_phone", None),
    SlotSet("callback_phone_attempts", 0.0),
    SlotSet("callback_abandoned", None),
]
STILL_HELP = (
    "Meanwhile I can still answer questions about city services, take a report of a problem "
    "or check a case."
)


def _phone(text: str) -> str | None:
    return phones.find_e164(text, settings().default_phone_region)


class ValidateCallbackForm(FormValidationAction):
    def name(self) -> str:
        return "validate_callback_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if tracker.get_slot("callback_abandoned"):
            return []
        if tracker.get_slot("callback_phone") is None:
            with crm(tracker) as (_, conversation):
                if conversation.citizen.phone:
                    return []  # the number we know them by
        return domain_slots

    async def extract_callback_phone(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "callback_phone":
            return {}
        text = latest_text(tracker)
        if _phone(text):
            return {"callback_phone": text}
        if latest_intent(tracker) in NOT_A_PHONE:
            return {}
        return {"callback_phone": text}

    async def validate_callback_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        phone = _phone(str(value or ""))
        if phone:
            return {"callback_phone": phone, "callback_phone_attempts": 0.0}
        attempts = int(tracker.get_slot("callback_phone_attempts") or 0) + 1
        if attempts > MAX_REPROMPTS:
            dispatcher.utter_message(
                text="I'm sorry, I still can't read a phone number there, so I haven't asked "
                "for a call-back. You're welcome to write again when the team is open. "
                + STILL_HELP
            )
            return {
                "callback_phone": None,
                "callback_phone_attempts": 0.0,
                "callback_abandoned": True,
            }
        dispatcher.utter_message(
            text="That doesn't look like a phone number. Please send the whole number with its "
            'area code, e.g. "555 010 0123" – or say "cancel".'
        )
        return {"callback_phone": None, "callback_phone_attempts": float(attempts)}


class SubmitCallback(Action):
    """Open the call-back case (once per conversation) and say when the call will come."""

    def name(self) -> str:
        return "action_submit_callback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if tracker.get_slot("callback_abandoned"):
            return RESET  # the validation has said so
        with crm(tracker) as (session, conversation):
            phone = tracker.get_slot("callback_phone") or conversation.citizen.phone
            if not phone:
                dispatcher.utter_message(
                    text=f"Sorry, I have no number to call you on. {STILL_HELP}"
                )
                return RESET
            status = team_for(tracker, session)
            case = request_callback(
                session,
                conversation,
                phone=phone,
                department=status.department,
                back_at=None if status.open_now else status.next_opening,
            )
            ref = references.display(case.reference)
        when = (
            "as soon as they can" if status.open_now else f"once they're back {back_when(status)}"
        )
        dispatcher.utter_message(
            text=f"Done – your call-back request is {ref}. {sentence(the_team(status.team))} "
            f"will call you on {phones.display(phone)} {when}. {STILL_HELP}"
        )
        return RESET


class DeclineCallback(Action):
    def name(self) -> str:
        return "action_decline_callback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(
            text="No problem – I haven't asked for a call-back. You can ask for a person again "
            f"when the team is open. {STILL_HELP}"
        )
        return RESET
