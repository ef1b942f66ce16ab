"""What a citizen is told about their cases."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot import references
from bot.services.cases import STATUS_TEXT, case_for_citizen, citizen_history, open_cases
from bot.services.service_info import intent_payload


def not_found_text(reference: str) -> str:
    """The same words whether the case does not exist or belongs to someone else."""
    return (
        f"I couldn't find a case of yours with the number {references.display(reference)}. "
        "Please check the number – for your privacy I can only show cases that belong "
        "to you."
    )


def describe_case(session: Session, citizen_id: int, reference: str, tz: ZoneInfo) -> str | None:
    """Details of the citizen's own case, or None when they have no case with that number."""
    case = case_for_citizen(session, citizen_id, reference)
    if case is None:
        return None
    where = f" at {case.location}" if case.location else ""
    lines = [
        f"Case {references.display(case.reference)} – {case.category.name}{where}.",
        f"Status: {STATUS_TEXT[case.status]}.",
        f"Opened {case.created_at.astimezone(tz):%-d %B %Y}; handled by {case.department.name}.",
    ]
    if case.status.value in ("new", "acknowledged", "in_progress"):
        lines.append(f"Expected by {case.due_at.astimezone(tz):%A %-d %B}.")
    history = [e for e in citizen_history(case) if e.kind == "status_changed"]
    if history:
        latest = history[-1]
        note = f": {latest.note}" if latest.note else ""
        lines.append(f"Latest update ({latest.created_at.astimezone(tz):%-d %B}){note}.")
    return "\n".join(lines)


def open_cases_text(
    session: Session, citizen_id: int, tz: ZoneInfo
) -> tuple[str, list[dict[str, str]]]:
    cases = open_cases(session, citizen_id)
    if not cases:
        return (
            "You have no open cases with us. If you have a case number, tell me and "
            "I'll look it up.",
            [],
        )
    noun = "case" if len(cases) == 1 else "cases"
    lines = [f"You have {len(cases)} open {noun}:"]
    buttons = []
    for case in cases[:5]:
        ref = references.display(case.reference)
        where = f", {case.location}" if case.location else ""
        lines.append(f"• {ref} – {case.category.name}{where}: {STATUS_TEXT[case.status]}")
        buttons.append(
            {
                "title": f"Details of {ref}",
                "payload": intent_payload("check_case_status", case_number=ref),
            }
        )
    return "\n".join(lines), buttons
