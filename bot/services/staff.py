"""Staff accounts and console sign-in: argon2id password hashes, server-side sessions.

A session cookie carries a random token; the database keeps only its SHA-256, with the
session's CSRF token and expiry, so signing out (or an admin disabling an account) takes
effect at once and a copy of the database lets nobody in.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.models import Department, StaffRole, StaffSession, StaffUser, utcnow

SESSION_LIFETIME = timedelta(hours=12)
MIN_PASSWORD_LENGTH = 10
_hasher = PasswordHasher()
# Verified against when the username is unknown, so both cases take the same time.
_DUMMY_HASH = _hasher.hash("not a real password, only for timing")

DEMO_STAFF = (
    ("agent", "Alex Agent", StaffRole.AGENT),
    ("supervisor", "Sam Supervisor", StaffRole.SUPERVISOR),
    ("admin", "Ada Admin", StaffRole.ADMIN),
)
DEMO_PASSWORD = "civicline-demo"


class StaffError(ValueError):
    """A request the rules refuse; the message is safe to show."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(
    session: Session,
    username: str,
    password: str,
    *,
    role: StaffRole = StaffRole.AGENT,
    display_name: str | None = None,
    department_key: str | None = None,
) -> StaffUser:
    username = username.strip().lower()
    if (
        not username
        or len(username) > 64
        or not username.replace(".", "").replace("-", "").replace("_", "").isalnum()
    ):
        raise StaffError("a username is 1–64 letters, digits, dots, dashes or underscores")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise StaffError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if session.scalar(select(StaffUser.id).where(StaffUser.username == username)):
        raise StaffError(f"there is already a member of staff called {username!r}")
    department_id = None
    if department_key:
        department_id = session.scalar(
            select(Department.id).where(Department.key == department_key)
        )
        if department_id is None:
            raise StaffError(f"unknown department {department_key!r}")
    user = StaffUser(
        username=username,
        display_name=(display_name or username).strip()[:200],
        password_hash=_hasher.hash(password),
        role=role,
        department_id=department_id,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> StaffUser | None:
    """The active user with this username and password, else None (same time either way)."""
    user = session.scalar(select(StaffUser).where(StaffUser.username == username.strip().lower()))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


@dataclass(frozen=True)
class NewSession:
    token: str  # goes in the cookie; never stored
    csrf_token: str


def start_session(
    session: Session, user: StaffUser, *, ip: str | None, user_agent: str | None
) -> NewSession:
    now = utcnow()
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.execute(delete(StaffSession).where(StaffSession.expires_at < now))
    session.add(
        StaffSession(
            token_hash=_digest(token),
            csrf_token=csrf,
            user_id=user.id,
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
            ip=(ip or "")[:64] or None,
            user_agent=(user_agent or "")[:300] or None,
        )
    )
    user.last_seen_at = now
    session.flush()
    return NewSession(token, csrf)


def session_for_token(
    session: Session, token: str | None, *, now: datetime | None = None
) -> StaffSession | None:
    """The live session of an active user for this cookie token, else None."""
    if not token:
        return None
    now = now or utcnow()
    found = session.scalar(select(StaffSession).where(StaffSession.token_hash == _digest(token)))
    if found is None or found.expires_at <= now or not found.user.active:
        return None
    last = found.user.last_seen_at
    if last is None or now - last > timedelta(seconds=30):  # no write on every request
        found.user.last_seen_at = now
    return found


def end_session(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(StaffSession).where(StaffSession.token_hash == _digest(token)))


def csrf_matches(staff_session: StaffSession, given: str | None) -> bool:
    return bool(given) and secrets.compare_digest(staff_session.csrf_token, given or "")


def ensure_demo_staff(session: Session) -> list[str]:
    """Create the demo accounts that are missing; returns the usernames created."""
    created = []
    for username, name, role in DEMO_STAFF:
        if session.scalar(select(StaffUser.id).where(StaffUser.username == username)) is None:
            create_user(session, username, DEMO_PASSWORD, role=role, display_name=name)
            created.append(username)
    return created


def can(user: StaffUser, permission: str) -> bool:
    """Role checks in one place: 'work_queue', 'see_dashboard', 'see_audit', 'manage_staff'."""
    needed = {
        "work_queue": StaffRole.AGENT,
        "see_dashboard": StaffRole.SUPERVISOR,
        "see_audit": StaffRole.SUPERVISOR,
        "manage_staff": StaffRole.ADMIN,
    }[permission]
    order = [StaffRole.AGENT, StaffRole.SUPERVISOR, StaffRole.ADMIN]
    return order.index(user.role) >= order.index(needed)
