"""Staff accounts, sign-in sessions, roles and the audit log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.models import AppendOnlyError, AuditEntry, StaffRole, StaffSession, StaffUser, utcnow
from bot.services import audit
from bot.services.staff import (
    DEMO_PASSWORD,
    StaffError,
    authenticate,
    can,
    create_user,
    csrf_matches,
    end_session,
    ensure_demo_staff,
    session_for_token,
    start_session,
)

PASSWORD = "correct horse battery"


def test_passwords_are_stored_as_argon2_hashes(session):
    user = create_user(session, "Alice", PASSWORD, display_name="Alice Jones")
    assert user.username == "alice"
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [
        ("bob", "short", "at least 10"),
        ("bob smith", PASSWORD, "letters, digits"),
        ("", PASSWORD, "letters, digits"),
    ],
)
def test_bad_accounts_are_refused(session, username, password, message):
    with pytest.raises(StaffError, match=message):
        create_user(session, username, password)


def test_usernames_are_unique_and_departments_must_exist(session):
    create_user(session, "alice", PASSWORD)
    with pytest.raises(StaffError, match="already"):
        create_user(session, "ALICE", PASSWORD)
    with pytest.raises(StaffError, match="unknown department"):
        create_user(session, "bob", PASSWORD, department_key="atlantis")
    assert create_user(session, "carol", PASSWORD, department_key="public_works").department


def test_sign_in_needs_the_right_password_and_an_active_account(session):
    user = create_user(session, "alice", PASSWORD)
    assert authenticate(session, "alice", PASSWORD) is user
    assert authenticate(session, " Alice ", PASSWORD) is user
    assert authenticate(session, "alice", PASSWORD + "!") is None
    assert authenticate(session, "nobody", PASSWORD) is None
    user.active = False
    assert authenticate(session, "alice", PASSWORD) is None


def test_sessions_store_no_token_and_end_on_sign_out_expiry_or_deactivation(session):
    user = create_user(session, "alice", PASSWORD)
    new = start_session(session, user, ip="10.0.0.7", user_agent="Firefox")
    stored = session.scalars(select(StaffSession)).one()
    assert stored.token_hash != new.token and new.token not in stored.token_hash
    found = session_for_token(session, new.token)
    assert found is stored and found.ip == "10.0.0.7"
    assert session_for_token(session, "forged") is None
    assert session_for_token(session, new.token, now=stored.expires_at) is None
    user.active = False
    assert session_for_token(session, new.token) is None
    user.active = True
    end_session(session, new.token)
    assert session_for_token(session, new.token) is None


def test_csrf_token_must_match_the_session(session):
    user = create_user(session, "alice", PASSWORD)
    new = start_session(session, user, ip=None, user_agent=None)
    stored = session_for_token(session, new.token)
    assert csrf_matches(stored, new.csrf_token)
    assert not csrf_matches(stored, None)
    assert not csrf_matches(stored, "")
    assert not csrf_matches(stored, new.csrf_token[:-1] + "x")


def test_roles_grant_more_as_they_go_up(session):
    agent = create_user(session, "agent1", PASSWORD)
    boss = create_user(session, "boss1", PASSWORD, role=StaffRole.SUPERVISOR)
    admin = create_user(session, "admin1", PASSWORD, role=StaffRole.ADMIN)
    assert can(agent, "work_queue") and not can(agent, "see_audit")
    assert can(boss, "see_audit") and can(boss, "see_dashboard") and not can(boss, "manage_staff")
    assert can(admin, "manage_staff")


def test_demo_staff_are_created_once(session):
    assert ensure_demo_staff(session) == ["agent", "supervisor", "admin"]
    assert ensure_demo_staff(session) == []
    assert authenticate(session, "agent", DEMO_PASSWORD) is not None
    roles = dict(session.execute(select(StaffUser.username, StaffUser.role)).all())
    assert roles["supervisor"] is StaffRole.SUPERVISOR


def test_the_audit_log_is_append_only_and_filterable(session):
    alice = create_user(session, "alice", PASSWORD)
    audit.record(session, alice, "login", ip="10.0.0.7")
    audit.record(session, alice, "view_citizen", target="citizen:3")
    audit.record(session, None, "login_failed", actor_name="mallory", detail="bad password")
    session.flush()
    newest = audit.entries(session)
    assert [e.action for e in newest[:3]] == ["login_failed", "view_citizen", "login"]
    assert [e.actor for e in audit.entries(session, action="login_failed")] == ["mallory"]
    assert audit.entries(session, target="citizen:3")[0].actor == "alice"
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "login")).one()
    assert entry.at > utcnow() - timedelta(minutes=1)
    entry.detail = "nothing happened"
    with pytest.raises(AppendOnlyError):
        session.flush()
    session.rollback()
