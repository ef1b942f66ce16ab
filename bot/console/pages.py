"""The console's pages (GET): queue, conversation, cases, dashboard, audit log, staff."""

from __future__ import annotations

from sqlalchemy import select
from starlette.responses import Response

from bot.console import data
from bot.console.web import Ctx
from bot.models import (
    AuditEntry,
    CannedResponse,
    Case,
    CaseCategory,
    CaseStatus,
    Conversation,
    Department,
    StaffNote,
    StaffRole,
    StaffUser,
    utcnow,
)
from bot.services import audit, handoff, queue
from bot.services.cases import OPEN_STATUSES, STATUS_TEXT, TRANSITIONS

PERIODS = {"today": "Today", "7d": "Last 7 days", "30d": "Last 30 days"}


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def not_found(ctx: Ctx, what: str) -> Response:
    return ctx.render(
        "error.html", status_code=404, heading="Not found", message=f"There is no such {what}."
    )


def _department_filter(ctx: Ctx) -> tuple[int | None, str]:
    """The department chosen (default: the user's own, else all) and the select's value."""
    chosen = ctx.request.query_params.get("department")
    if chosen is None:
        chosen = str(ctx.user.department_id) if ctx.user.department_id else "all"
    return (None if chosen == "all" else _int(chosen)), chosen


def queue_page(ctx: Ctx) -> Response:
    department_id, chosen = _department_filter(ctx)
    rows = data.queue_rows(ctx.db, department_id)
    longest = max((r["waiting_seconds"] for r in rows), default=0)
    return ctx.render(
        "queue.html",
        rows=rows,
        longest=longest,
        departments=handoff.departments(ctx.db),
        chosen=chosen,
        mine=data.my_conversations(ctx.db, ctx.user),
        live=data.live_bot_conversations(ctx.db),
        api_query=f"?department={chosen}",
    )


def conversation_page(ctx: Ctx) -> Response:
    conversation = ctx.db.get(Conversation, _int(ctx.param("id")) or 0)
    if conversation is None:
        return not_found(ctx, "conversation")
    citizen = conversation.citizen
    name = data.citizen_label(citizen.name, citizen.id, citizen.phone)
    ctx.audit("view_citizen", f"citizen:{citizen.id}", f"conversation:{conversation.id}")
    request = queue.open_request(ctx.db, conversation.id)
    department_id = (request.department_id if request else None) or ctx.user.department_id
    canned = ctx.db.scalars(
        select(CannedResponse)
        .where(
            (CannedResponse.department_id.is_(None))
            | (CannedResponse.department_id == department_id)
        )
        .order_by(CannedResponse.title)
    ).all()
    lines = data.transcript(ctx.db, citizen.id, name)
    return ctx.render(
        "conversation.html",
        conversation=conversation,
        citizen=citizen,
        citizen_name=name,
        request_=request,
        position=queue.position_of(ctx.db, request) if request else None,
        lines=lines,
        last_id=lines[-1].message.id if lines else 0,
        notes=ctx.db.scalars(
            select(StaffNote)
            .where(StaffNote.conversation_id == conversation.id)
            .order_by(StaffNote.id)
        ).all(),
        cases=ctx.db.scalars(
            select(Case).where(Case.citizen_id == citizen.id).order_by(Case.id.desc())
        ).all(),
        past=ctx.db.scalars(
            select(Conversation)
            .where(Conversation.citizen_id == citizen.id)
            .order_by(Conversation.id.desc())
        ).all(),
        canned=canned,
        departments=handoff.departments(ctx.db),
        categories=ctx.db.scalars(select(CaseCategory).order_by(CaseCategory.name)).all(),
        utcnow=utcnow(),
    )


def cases_page(ctx: Ctx) -> Response:
    status = ctx.request.query_params.get("status", "open")
    department_id, chosen = _department_filter(ctx)
    query = select(Case)
    if status == "open":
        query = query.where(Case.status.in_(OPEN_STATUSES))
    elif status in {s.value for s in CaseStatus}:
        query = query.where(Case.status == CaseStatus(status))
    else:
        status = "all"
    if department_id is not None:
        query = query.where(Case.department_id == department_id)
    now = utcnow()
    cases = list(ctx.db.scalars(query.order_by(Case.due_at, Case.id).limit(500)))
    overdue = {c.id for c in cases if c.status in OPEN_STATUSES and c.due_at < now}
    cases.sort(key=lambda c: c.id not in overdue)  # stable: overdue first, then by due date
    return ctx.render(
        "cases.html",
        cases=cases,
        overdue=overdue,
        status=status,
        statuses=list(CaseStatus),
        departments=handoff.departments(ctx.db),
        chosen=chosen,
    )


def case_page(ctx: Ctx) -> Response:
    case = ctx.db.get(Case, _int(ctx.param("id")) or 0)
    if case is None:
        return not_found(ctx, "case")
    ctx.audit("view_citizen", f"citizen:{case.citizen_id}", f"case:{case.id}")
    return ctx.render(
        "case.html",
        case=case,
        citizen_name=data.citizen_label(case.citizen.name, case.citizen_id, case.citizen.phone),
        overdue=case.status in OPEN_STATUSES and case.due_at < utcnow(),
        transitions=sorted(TRANSITIONS[case.status], key=list(CaseStatus).index),
        status_text=STATUS_TEXT,
        staff=ctx.db.scalars(
            select(StaffUser).where(StaffUser.active.is_(True)).order_by(StaffUser.display_name)
        ).all(),
    )


def dashboard_page(ctx: Ctx) -> Response:
    from bot.console.charts import bar_chart, percent_bar
    from bot.services.dashboard import metrics, period

    chosen = ctx.request.query_params.get("period", "today")
    if chosen not in PERIODS:
        chosen = "today"
    now = utcnow()
    since, until = period(chosen, now, ctx.settings.tz)
    m = metrics(ctx.db, since=since, until=until, now=now)
    rates = [
        percent_bar("Contained by the bot", m.containment_rate),
        percent_bar("Handed to staff", m.handoff_rate),
    ]
    charts = [
        bar_chart(
            "Satisfaction ratings (1–5)",
            [(str(score), float(m.csat_distribution.get(score, 0))) for score in range(1, 6)],
        ),
        bar_chart("Cases by category", [(k, float(v)) for k, v in m.cases_by_category]),
        bar_chart("Cases by channel", [(k, float(v)) for k, v in m.cases_by_channel]),
        bar_chart("Cases by status", [(k, float(v)) for k, v in m.cases_by_status]),
    ]
    return ctx.render(
        "dashboard.html", m=m, period=chosen, periods=PERIODS, rates=rates, charts=charts
    )


def audit_page(ctx: Ctx) -> Response:
    actor = ctx.request.query_params.get("actor", "").strip()
    action = ctx.request.query_params.get("action", "").strip()
    rows = audit.entries(ctx.db, actor=actor or None, action=action or None, limit=300)
    actions = ctx.db.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action))
    return ctx.render("audit.html", rows=rows, actor=actor, action=action, actions=list(actions))


def staff_page(ctx: Ctx) -> Response:
    return ctx.render(
        "staff.html",
        members=ctx.db.scalars(select(StaffUser).order_by(StaffUser.username)).all(),
        roles=list(StaffRole),
        departments=ctx.db.scalars(select(Department).order_by(Department.name)).all(),
    )
