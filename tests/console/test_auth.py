"""Signing in and out, cookies, CSRF, roles and security headers of the staff console."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from bot.gateway import create_app
from bot.models import AuditEntry, HandoffRequest, StaffRole, StaffSession
from tests.console.conftest import Console, csrf_of, settings_for

PAGES = [
    "/staff/queue",
    "/staff/conversations/1",
    "/staff/cases",
    "/staff/cases/1",
    "/staff/dashboard",
    "/staff/audit",
    "/staff/admin/staff",
]
APIS = ["/staff/api/queue", "/staff/api/queue/stream", "/staff/api/conversations/1/messages"]


def audit_rows(console: Console, action: str) -> list[AuditEntry]:
    with console.db() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_pages_redirect_to_login_and_apis_answer_401(console: Console) -> None:
    client = console.client
    for page in PAGES:
        response = client.get(page, follow_redirects=False)
        assert response.status_code == 303, page
        assert response.headers["location"] == f"/staff/login?next={page}"
    for api in APIS:
        assert client.get(api).status_code == 401, api
    posted = client.post("/staff/conversations/1/claim", data={}, follow_redirects=False)
    assert posted.status_code == 303
    assert posted.headers["location"].startswith("/staff/login")
    home = client.get("/staff/", follow_redirects=False)
    assert (home.status_code, home.headers["location"]) == (303, "/staff/queue")


def test_a_wrong_password_is_refused_and_audited(console: Console) -> None:
    console.staff("alice")
    response = console.login("alice", "not the password")
    assert response.status_code == 401
    assert "Wrong username or password" in response.text
    assert "civicline_staff" not in response.headers.get("set-cookie", "")
    assert console.client.get("/staff/queue", follow_redirects=False).status_code == 303
    (entry,) = audit_rows(console, "login_failed")
    assert entry.actor == "alice" and "alice" in entry.detail
    assert entry.ip == "testclient"


def test_login_sets_a_locked_down_cookie_and_logout_ends_the_session(console: Console) -> None:
    console.staff("alice")
    response = console.login("alice", next_="/staff/cases")
    assert response.status_code == 303
    assert response.headers["location"] == "/staff/cases"
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("civicline_staff=")
    )
    flags = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in flags and "samesite=lax" in flags and "path=/staff" in flags
    assert "secure" not in flags  # plain http in the test; see the https test below

    page = console.client.get("/staff/queue")
    assert page.status_code == 200 and "Alice Smith" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "same-origin"
    (login,) = audit_rows(console, "login")
    assert (login.actor, login.ip) == ("alice", "testclient")

    logout = console.post("/staff/logout")
    assert logout.status_code == 303
    assert console.client.get("/staff/queue", follow_redirects=False).status_code == 303
    assert len(audit_rows(console, "logout")) == 1
    with console.db() as s:
        assert s.scalars(select(StaffSession)).all() == []


def test_the_cookie_is_secure_when_published_over_https(sqlite_url: str) -> None:
    settings = settings_for(sqlite_url, public_base_url="https://city.example")
    with TestClient(create_app(settings, with_channels=False, with_outbox=False)) as client:
        page = client.get("/staff/login")
        assert "secure" in [p.strip().lower() for p in page.headers["set-cookie"].split(";")]
        assert csrf_of(page.text)


def test_login_without_the_pre_login_token_is_refused(console: Console) -> None:
    console.staff("alice")
    response = console.client.post(
        "/staff/login",
        data={"username": "alice", "password": "correct horse battery", "csrf_token": "x"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert "security token" in response.text
    assert audit_rows(console, "login") == []


def test_a_post_without_a_valid_csrf_token_changes_nothing(console: Console) -> None:
    console.sign_in_as("alice")
    conversation_id = console.waiting()
    for token in ("", "forged"):
        response = console.post(f"/staff/conversations/{conversation_id}/claim", token=token)
        assert response.status_code == 403
        assert "Nothing was changed" in response.text
    with console.db() as s:
        request = s.scalars(select(HandoffRequest)).one()
        assert request.claimed_at is None
    assert audit_rows(console, "claim") == []
    # the header form (for fetch) works like the field
    header = console.client.post(
        f"/staff/conversations/{conversation_id}/claim",
        headers={"X-CSRF-Token": console.token()},
        follow_redirects=False,
    )
    assert header.status_code == 303


@pytest.mark.parametrize(
    "role, allowed",
    [
        (StaffRole.AGENT, set()),
        (StaffRole.SUPERVISOR, {"/staff/dashboard", "/staff/audit"}),
        (StaffRole.ADMIN, {"/staff/dashboard", "/staff/audit", "/staff/admin/staff"}),
    ],
)
def test_roles_decide_who_sees_the_dashboard_audit_log_and_staff(
    console: Console, role: StaffRole, allowed: set[str]
) -> None:
    console.sign_in_as("pat", role)
    for page in ("/staff/dashboard", "/staff/audit", "/staff/admin/staff"):
        response = console.client.get(page)
        assert response.status_code == (200 if page in allowed else 403), page
        if page not in allowed:
            assert "Your role does not give access" in response.text
    nav = console.client.get("/staff/queue").text
    assert ('href="/staff/audit"' in nav) == ("/staff/audit" in allowed)


def test_the_audit_log_lists_newest_first_and_filters(console: Console) -> None:
    console.staff("alice")
    console.login("alice", "wrong password!")
    console.sign_in_as("sam", StaffRole.SUPERVISOR)
    page = console.client.get("/staff/audit").text
    assert page.index("login_failed") > page.index(">login<")  # newest (sam's login) first
    filtered = console.client.get("/staff/audit", params={"action": "login_failed"}).text
    assert "username tried: &#39;alice&#39;" in filtered
    assert "<td>sam</td>" not in filtered


def test_an_admin_creates_and_deactivates_accounts(console: Console) -> None:
    console.sign_in_as("ada", StaffRole.ADMIN)
    created = console.post(
        "/staff/admin/staff/new",
        {"username": "bob", "display_name": "Bob B", "password": "long enough pw", "role": "agent"},
    )
    assert created.status_code == 303
    assert "bob" in console.client.get("/staff/admin/staff").text
    short = console.post(
        "/staff/admin/staff/new", {"username": "eve", "password": "short", "role": "agent"}
    )
    assert "at least 10 characters" in console.client.get(short.headers["location"]).text

    with console.db() as s:
        from bot.models import StaffUser

        bob_id = s.scalar(select(StaffUser.id).where(StaffUser.username == "bob"))
    # A second browser on the same running app (its lifespan already runs: not started again).
    bob = Console(TestClient(console.client.app), console.sessions)
    assert bob.login("bob", "long enough pw").status_code == 303
    assert bob.client.get("/staff/queue").status_code == 200
    console.post("/staff/admin/staff/active", {"user_id": str(bob_id), "active": "0"})
    assert bob.client.get("/staff/queue", follow_redirects=False).status_code == 303
    assert [e.target for e in audit_rows(console, "staff_deactivate")] == [f"staff:{bob_id}"]


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/staff/", "/staff//x"])
def test_login_never_redirects_outside_the_console(console: Console, target: str) -> None:
    console.staff("alice")
    response = console.login("alice", next_=target)
    assert response.headers["location"] == "/staff/queue"
