"""Cases in the console: opening one from a conversation, legal and illegal status changes
(the citizen is notified of legal ones), assignment, the list with overdue cases first."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.models import (
    AuditEntry,
    Case,
    CaseEvent,
    CaseStatus,
    Notification,
    NotificationKind,
    NotificationStatus,
    StaffRole,
    utcnow,
)
from tests.console.conftest import Console


def open_pothole(console: Console) -> tuple[int, int]:
    """A case opened through the conversation page; returns (case id, conversation id)."""
    conversation_id = console.waiting()
    response = console.post(
        f"/staff/conversations/{conversation_id}/case",
        {"category": "pothole", "description": "Deep pothole", "location": "5 Elm Street"},
    )
    assert response.status_code == 303
    case_id = int(response.headers["location"].rsplit("/", 1)[1])
    return case_id, conversation_id


def test_a_case_opened_from_a_conversation(console: Console) -> None:
    console.sign_in_as("alice")
    case_id, conversation_id = open_pothole(console)
    page = console.client.get(f"/staff/cases/{case_id}")
    assert page.status_code == 200
    assert "Deep pothole" in page.text and "5 Elm Street" in page.text
    assert "Rita Resident" in page.text
    with console.db() as s:
        case = s.get(Case, case_id)
        assert (case.conversation_id, case.status) == (conversation_id, CaseStatus.NEW)
        assert case.events[0].actor == "staff:alice"
        audited = [(e.action, e.target) for e in s.scalars(select(AuditEntry))]
    assert ("case_create", f"case:{case_id}") in audited
    assert ("view_citizen", f"citizen:{case.citizen_id}") in audited  # the case page shows them
    assert (
        f'href="/staff/cases/{case_id}"'
        in console.client.get(f"/staff/conversations/{conversation_id}").text
    )

    missing_location = console.post(
        f"/staff/conversations/{conversation_id}/case",
        {"category": "pothole", "description": "Another one"},
    )
    page = console.client.get(missing_location.headers["location"]).text
    assert "a pothole report needs a location" in page


def test_status_changes_offer_only_legal_moves_and_notify_the_citizen(console: Console) -> None:
    console.sign_in_as("alice")
    case_id, _ = open_pothole(console)
    url = f"/staff/cases/{case_id}"
    form = console.client.get(url).text
    form = form[form.index('id="new-status"') : form.index("</select>", form.index("new-status"))]
    assert 'value="acknowledged"' in form and 'value="rejected"' in form
    assert 'value="closed"' not in form and 'value="resolved"' not in form

    changed = console.post(f"{url}/status", {"status": "acknowledged", "note": "Crew booked."})
    assert changed.status_code == 303
    assert "Status changed to acknowledged." in console.client.get(url).text
    with console.db() as s:
        case = s.get(Case, case_id)
        assert case.status is CaseStatus.ACKNOWLEDGED
        event = s.scalars(select(CaseEvent).where(CaseEvent.kind == "status_changed")).one()
        assert (event.note, event.actor) == ("Crew booked.", "staff:alice")
        notice = s.scalars(
            select(Notification).where(Notification.kind == NotificationKind.CASE_UPDATE)
        ).one()
        assert notice.case_id == case_id and notice.status is NotificationStatus.PENDING
        assert s.scalar(select(AuditEntry).where(AuditEntry.action == "case_status")) is not None

    illegal = console.post(f"{url}/status", {"status": "closed", "note": "skip ahead"})
    assert (illegal.status_code, illegal.headers["location"]) == (303, url)
    page = console.client.get(url).text
    assert 'role="alert">a case that is acknowledged cannot become closed' in page
    with console.db() as s:
        assert s.get(Case, case_id).status is CaseStatus.ACKNOWLEDGED
        assert len(s.scalars(select(Notification)).all()) == 1


def test_assigning_a_case(console: Console) -> None:
    console.sign_in_as("alice")
    bob = console.staff("bob")
    case_id, _ = open_pothole(console)
    console.post(f"/staff/cases/{case_id}/assign", {"assignee": str(bob)})
    with console.db() as s:
        assert s.get(Case, case_id).assignee_id == bob
        detail = s.scalar(select(AuditEntry.detail).where(AuditEntry.action == "case_assign"))
    assert detail == "assigned to bob"
    assert "Bob Smith" in console.client.get("/staff/cases").text


def test_the_case_list_puts_overdue_cases_first(console: Console) -> None:
    console.sign_in_as("sam", StaffRole.SUPERVISOR)
    recent, _ = open_pothole(console)
    late, _ = open_pothole(console)
    with console.db() as s:
        s.get(Case, late).due_at = utcnow() - timedelta(days=1)
        references = {c.id: c.reference for c in s.scalars(select(Case))}
    page = console.client.get("/staff/cases").text
    late_ref, recent_ref = (f"{references[i][:4]}-{references[i][4:]}" for i in (late, recent))
    assert page.index(late_ref) < page.index(recent_ref)
    assert "1 overdue" in page
    closed_only = console.client.get("/staff/cases", params={"status": "closed"}).text
    assert late_ref not in closed_only
    dashboard = console.client.get("/staff/dashboard", params={"period": "30d"})
    assert dashboard.status_code == 200
    assert late_ref in dashboard.text and "<svg" in dashboard.text
