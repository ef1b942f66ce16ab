"""Session start and greeting: a returning citizen is recognised."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions._crm import crm
from bot import references
from bot.services.citizens import citizen_context


class SessionStart(Action):
    def name(self) -> str:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        with crm(tracker) as (session, conversation):
            ctx = citizen_context(session, conversation.citizen_id)
        return [
            SessionStarted(),
            SlotSet("citizen_name", ctx.name),
            SlotSet("open_case_count", float(len(ctx.open_case_references))),
            ActionExecuted("action_listen"),
        ]


class Greet(Action):
    def name(self) -> str:
        return "action_greet"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        with crm(tracker) as (session, conversation):
            ctx = citizen_context(session, conversation.citizen_id)
        hello = f"Hello {ctx.name}!" if ctx.name else "Hello!"
        if ctx.returning:
            hello = f"Welcome back, {ctx.name}!" if ctx.name else "Welcome back!"
        lines = [f"{hello} I'm Civicline, the city's assistant."]
        refs = ctx.open_case_references
        if refs:
            shown = ", ".join(references.display(r) for r in refs[:3])
            more = f" and {len(refs) - 3} more" if len(refs) > 3 else ""
            noun = "case" if len(refs) == 1 else "cases"
            lines.append(f"You have {len(refs)} open {noun}: {shown}{more}.")
        lines.append("How can I help you today?")
        dispatcher.utter_message(
            text=" ".join(lines),
            buttons=[
                {"title": "Ask about a service", "payload": "/help"},
                {"title": "Report a problem", "payload": "/report_issue"},
                {"title": "Check a case", "payload": "/check_case_status"},
            ],
        )
        return [SlotSet("citizen_name", ctx.name), SlotSet("open_case_count", float(len(refs)))]
