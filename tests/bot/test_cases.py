from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.models import AppendOnlyError, Case, CaseStatus, Channel, Priority
from bot.references import is_valid
from bot.services.cases import (
    CaseError,
    case_for_citizen,
    change_status,
    citizen_history,
    open_case,
    open_cases,
)
from bot.services.citizens import resolve_identity

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)


def citizen(session, external_id="alice"):
    return resolve_identity(session, Channel.WEB, external_id).citizen_id


def pothole(session, citizen_id, **kw):
    args = dict(
        citizen_id=citizen_id,
        category_key="pothole",
        description="Deep hole, cars swerving",
        location="12 Elm Road",
        channel=Channel.WEB,
        now=NOW,
    )
    args.update(kw)
    return open_case(session, **args)


def test_open_case_has_reference_department_due_date_and_history(session):
    case = pothole(session, citizen(session))
    assert is_valid(case.reference)
    assert case.status is CaseStatus.NEW
    assert case.department.key == case.category.department.key
    assert case.due_at == NOW + timedelta(days=case.category.sla_days)
    assert [e.kind for e in case.events] == ["created"]


def test_priority_comes_from_the_category(session):
    case = open_case(
        session,
        citizen_id=citizen(session),
        category_key="traffic_signal_fault",
        description="All lights dark",
        location="Main St and 5th Ave",
        channel=Channel.SMS,
        now=NOW,
    )
    assert case.priority is Priority.URGENT


def test_location_is_required_only_where_the_category_needs_it(session):
    cid = citizen(session)
    with pytest.raises(CaseError, match="needs a location"):
        pothole(session, cid, location="  ")
    callback = open_case(
        session,
        citizen_id=cid,
        category_key="callback_request",
        description="Please call me about my tax bill",
        location=None,
        channel=Channel.WEB,
        now=NOW,
    )
    assert callback.location is None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"category_key": "unicorns"}, "unknown case category"),
        ({"description": "   "}, "needs a description"),
        ({"description": "x" * 2001}, "longer than"),
    ],
)
def test_bad_requests_are_refused_with_a_clear_reason(session, kwargs, message):
    with pytest.raises(CaseError, match=message):
        pothole(session, citizen(session), **kwargs)


def test_status_follows_the_life_cycle(session):
    case = pothole(session, citizen(session))
    for status in (
        CaseStatus.ACKNOWLEDGED,
        CaseStatus.IN_PROGRESS,
        CaseStatus.RESOLVED,
        CaseStatus.CLOSED,
    ):
        change_status(session, case, status, actor="staff:bob", note=f"now {status.value}")
    assert case.status is CaseStatus.CLOSED
    assert [e.to_status for e in case.events][-1] is CaseStatus.CLOSED
    assert len(case.events) == 5


@pytest.mark.parametrize(
    "path",
    [
        [CaseStatus.RESOLVED],  # new cannot jump to resolved
        [CaseStatus.REJECTED, CaseStatus.IN_PROGRESS],  # rejected is final
        [CaseStatus.ACKNOWLEDGED, CaseStatus.NEW],  # no going back to new
    ],
)
def test_illegal_transitions_are_refused(session, path):
    case = pothole(session, citizen(session))
    *legal, illegal = path
    for status in legal:
        change_status(session, case, status, actor="staff:bob")
    before = case.status
    with pytest.raises(CaseError, match="cannot become"):
        change_status(session, case, illegal, actor="staff:bob")
    assert case.status is before


def test_internal_notes_are_hidden_from_the_citizen(session):
    case = pothole(session, citizen(session))
    change_status(
        session,
        case,
        CaseStatus.ACKNOWLEDGED,
        actor="staff:bob",
        note="crew B, low priority",
        visible_to_citizen=False,
    )
    assert all(e.note != "crew B, low priority" for e in citizen_history(case))


def test_case_history_cannot_be_rewritten(session):
    case = pothole(session, citizen(session))
    case.events[0].note = "nothing happened"
    with pytest.raises(AppendOnlyError):
        session.flush()
    session.rollback()


def test_a_case_is_found_only_for_its_owner(session):
    owner, other = citizen(session, "owner"), citizen(session, "other")
    case = pothole(session, owner)
    assert case_for_citizen(session, owner, case.reference) is case
    assert case_for_citizen(session, other, case.reference) is None
    assert case_for_citizen(session, owner, "00000000") is None


def test_open_cases_lists_only_unfinished_ones_newest_first(session):
    cid = citizen(session)
    first = pothole(session, cid, now=NOW)
    second = pothole(session, cid, now=NOW + timedelta(hours=1))
    done = pothole(session, cid)
    change_status(session, done, CaseStatus.REJECTED, actor="staff:bob", note="duplicate")
    assert [c.id for c in open_cases(session, cid)] == [second.id, first.id]


def test_timestamps_come_back_timezone_aware(session):
    case = pothole(session, citizen(session))
    session.expire_all()
    stored = session.scalar(select(Case).where(Case.id == case.id))
    assert stored.due_at.tzinfo is not None
    assert stored.due_at == case.due_at
