"""The CRM schema: citizens and their channel identities, conversations, the catalogue, cases.

Alembic migrations in `bot/migrations` are the source of truth for the database; these typed
models must match them (a test compares the two).
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database (SQLite keeps no offset of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


def _enum(cls: type[enum.Enum]) -> Enum:
    """Store enums as their values in a plain string column (portable, readable in SQL)."""
    return Enum(
        cls,
        native_enum=False,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class Channel(enum.StrEnum):
    WEB = "web"
    TELEGRAM = "telegram"
    SMS = "sms"
    VOICE = "voice"


class ConversationState(enum.StrEnum):
    BOT = "bot"
    WAITING_FOR_STAFF = "waiting_for_staff"
    WITH_STAFF = "with_staff"
    CLOSED = "closed"


class Direction(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class AuthorKind(enum.StrEnum):
    CITIZEN = "citizen"
    BOT = "bot"
    STAFF = "staff"
    SYSTEM = "system"


class CaseStatus(enum.StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"


class Priority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class StaffRole(enum.StrEnum):
    """What a member of staff may do: agents work the queue; supervisors also see the
    dashboard and the audit log; admins also manage staff accounts."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class HandoffOutcome(enum.StrEnum):
    RESOLVED = "resolved"  # the person solved it; the citizen is asked for a rating
    HANDED_BACK = "handed_back"  # the person gave the conversation back to the bot
    CALLBACK = "callback"  # outside business hours: a call-back case instead


class Citizen(Base):
    __tablename__ = "citizens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    preferred_channel: Mapped[Channel | None] = mapped_column(_enum(Channel))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    identities: Mapped[list[ChannelIdentity]] = relationship(back_populates="citizen")
    cases: Mapped[list[Case]] = relationship(back_populates="citizen")


class ChannelIdentity(Base):
    """How one channel knows a citizen (Telegram user id, phone number, web chat id)."""

    __tablename__ = "channel_identities"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[Channel] = mapped_column(_enum(Channel))
    external_id: Mapped[str] = mapped_column(String(200))
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    opted_out_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    citizen: Mapped[Citizen] = relationship(back_populates="identities")


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), index=True)
    channel: Mapped[Channel] = mapped_column(_enum(Channel))
    engine_sender_id: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[ConversationState] = mapped_column(
        _enum(ConversationState), default=ConversationState.BOT
    )
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    citizen: Mapped[Citizen] = relationship()
    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", order_by="Message.id"
    )


class Message(Base):
    """One line of the transcript, in either direction."""

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("channel", "provider_message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    channel: Mapped[Channel] = mapped_column(_enum(Channel))
    direction: Mapped[Direction] = mapped_column(_enum(Direction))
    author_kind: Mapped[AuthorKind] = mapped_column(_enum(AuthorKind))
    text: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    engine_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")


class HandoffRequest(Base):
    """A citizen's (or the bot's, or staff's) request for a person to take the conversation.

    Unresolved requests form the per-department queue: higher `priority` first, then oldest.
    `claimed_at`/`claimed_by_id` say who took it; `resolved_at`/`outcome` how it ended.
    """

    __tablename__ = "handoff_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    reason: Mapped[str] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    outcome: Mapped[HandoffOutcome | None] = mapped_column(_enum(HandoffOutcome))
    notified_position: Mapped[int | None] = mapped_column(Integer)

    conversation: Mapped[Conversation] = relationship()
    department: Mapped[Department | None] = relationship()
    claimed_by: Mapped[StaffUser | None] = relationship(foreign_keys=[claimed_by_id])


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(320))
    business_hours: Mapped[dict[str, str | None]] = mapped_column(JSON, default=dict)


class Office(Base):
    __tablename__ = "offices"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(400))
    phone: Mapped[str | None] = mapped_column(String(32))
    opening_hours: Mapped[dict[str, str | None]] = mapped_column(JSON, default=dict)


class Service(Base):
    """One entry of the public-service catalogue."""

    __tablename__ = "services"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    office_id: Mapped[int | None] = mapped_column(ForeignKey("offices.id"))
    summary: Mapped[str] = mapped_column(Text)
    eligibility: Mapped[str] = mapped_column(Text, default="")
    documents: Mapped[list[str]] = mapped_column(JSON, default=list)
    fees: Mapped[str] = mapped_column(Text, default="")
    how_to_apply: Mapped[str] = mapped_column(Text, default="")
    processing_time: Mapped[str] = mapped_column(Text, default="")
    synonyms: Mapped[list[str]] = mapped_column(JSON, default=list)

    department: Mapped[Department] = relationship()
    office: Mapped[Office | None] = relationship()


class CaseCategory(Base):
    __tablename__ = "case_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    sla_days: Mapped[int] = mapped_column(Integer)
    location_required: Mapped[bool] = mapped_column(Boolean, default=True)
    default_priority: Mapped[Priority] = mapped_column(_enum(Priority), default=Priority.NORMAL)
    synonyms: Mapped[list[str]] = mapped_column(JSON, default=list)

    department: Mapped[Department] = relationship()


class Case(Base):
    """A service request. `reference` is 8 digits, the last a Luhn check digit."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(8), unique=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("case_categories.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), index=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"))
    channel: Mapped[Channel] = mapped_column(_enum(Channel))
    description: Mapped[str] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(String(400))
    status: Mapped[CaseStatus] = mapped_column(_enum(CaseStatus), default=CaseStatus.NEW)
    priority: Mapped[Priority] = mapped_column(_enum(Priority), default=Priority.NORMAL)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime())
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))

    category: Mapped[CaseCategory] = relationship()
    assignee: Mapped[StaffUser | None] = relationship()
    department: Mapped[Department] = relationship()
    citizen: Mapped[Citizen] = relationship(back_populates="cases")
    events: Mapped[list[CaseEvent]] = relationship(back_populates="case", order_by="CaseEvent.id")


class CaseEvent(Base):
    """Append-only case history: creation, status changes and notes."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[CaseStatus | None] = mapped_column(_enum(CaseStatus))
    to_status: Mapped[CaseStatus | None] = mapped_column(_enum(CaseStatus))
    note: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(100))
    visible_to_citizen: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    case: Mapped[Case] = relationship(back_populates="events")


class NotificationStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # gave up after the last retry
    SUPPRESSED = "suppressed"  # nobody to send to (opted out, no channel)


class NotificationKind(enum.StrEnum):
    CASE_UPDATE = "case_update"
    CONVERSATION = "conversation"  # a line of a live conversation: staff reply, queue update


class Notification(Base):
    """The outbox: messages to citizens that the gateway sends on its own (case updates, staff
    replies, queue updates, rating requests), with retries and back-off. `buttons` (a list of
    {"title", "payload"}) become an inline keyboard on Telegram and numbered lines on SMS."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[NotificationKind] = mapped_column(
        _enum(NotificationKind), default=NotificationKind.CASE_UPDATE, server_default="case_update"
    )
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    buttons: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)
    channel: Mapped[Channel | None] = mapped_column(_enum(Channel))
    recipient: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[NotificationStatus] = mapped_column(
        _enum(NotificationStatus), default=NotificationStatus.PENDING, index=True
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(String(500))
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class StaffUser(Base):
    """A member of staff who signs in to the console. `password_hash` is argon2id."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[StaffRole] = mapped_column(_enum(StaffRole), default=StaffRole.AGENT)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    department: Mapped[Department | None] = relationship()


class StaffSession(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored, with
    the session's CSRF token, so a leaked database does not let anyone sign in."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))

    user: Mapped[StaffUser] = relationship()


class AuditEntry(Base):
    """Who did or saw what, when and from where (append-only)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    actor: Mapped[str] = mapped_column(String(100))  # username (kept if the user is removed)
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str | None] = mapped_column(String(100))  # e.g. "citizen:12", "case:3"
    detail: Mapped[str] = mapped_column(Text, default="")
    ip: Mapped[str | None] = mapped_column(String(64))


class StaffNote(Base):
    """A private note on a conversation: staff see it, the citizen never does."""

    __tablename__ = "staff_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    author: Mapped[StaffUser] = relationship()


class CannedResponse(Base):
    """A ready-made reply staff can insert and edit; `department_id` None: for everyone."""

    __tablename__ = "canned_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))


class Rating(Base):
    """A citizen's 1–5 satisfaction rating (CSAT), asked after a handoff or a case is
    resolved. `score` is None while the question is still open."""

    __tablename__ = "ratings"

    id: Mapped[int] = mapped_column(primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), index=True)
    channel: Mapped[Channel] = mapped_column(_enum(Channel))
    handoff_id: Mapped[int | None] = mapped_column(ForeignKey("handoff_requests.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    score: Mapped[int | None] = mapped_column(Integer)
    asked_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class AppendOnlyError(RuntimeError):
    """Raised when code tries to change or delete case history."""


@event.listens_for(CaseEvent, "before_update")
@event.listens_for(CaseEvent, "before_delete")
@event.listens_for(AuditEntry, "before_update")
@event.listens_for(AuditEntry, "before_delete")
def _history_is_append_only(_mapper: Any, _conn: Any, target: CaseEvent | AuditEntry) -> None:
    raise AppendOnlyError(f"{target.__tablename__} {target.id} is history and cannot be changed")
