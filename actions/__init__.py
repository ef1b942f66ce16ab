"""Rasa custom actions: adapters from trackers to the CRM services in `bot/`.

rasa-sdk registers every Action subclass it imports, so each module is imported here.
"""

from actions import callback, fallback, handoff, report, service_info, session, status

__all__ = ["callback", "fallback", "handoff", "report", "service_info", "session", "status"]
