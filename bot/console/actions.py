"""What staff do (POST): conversation actions, cases, staff accounts. Each handler calls one
service, audits it in the same transaction and redirects back (303) with a banner; a refusal
raised by the service rolls everything back (see `bot.console.web.endpoint`)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import Response

from bot.console.web import PREFIX, PRIORITY_LABELS, Ctx
from bot.models import Case, CaseStatus, Conversation, StaffRole, StaffUser
from bot.services import cases, staff, takeover
from bot.services.cases import CaseError
from bot.services.staff import StaffError
from bot.services.takeover import TakeoverError


def _conversation(ctx: Ctx) -> Conversation:
    conversation = ctx.db.get(Conversation, int(ctx.param("id")))
    if conversation is None:
        raise TakeoverError("there is no such conversation")
    return conversation


def _back(conversation: Conversation) -> str:
    return f"{PREFIX}/conversations/{conversation.id}"


def conversation_action(name: str) -> Callable[[Ctx], Response]:
    """A handler for one of claim / take_over / resolve / hand_back (no form fields)."""
    notices = {
        "claim": "You have claimed the conversation.",
        "take_over": "You have taken over the conversation; the bot is silent now.",
        "resolve": "Resolved. The assistant is back and the citizen was asked for a rating.",
        "hand_back": "Handed back to the assistant.",
    }

    def handler(ctx: Ctx) -> Response:
        conversation = _conversation(ctx)
        getattr(takeover, name)(ctx.db, conversation, ctx.user)
        ctx.audit(name, f"conversation:{conversation.id}", f"citizen:{conversation.citizen_id}")
        return ctx.redirect(_back(conversation), notice=notices[name])

    handler.__name__ = name
    return handler


def reply(ctx: Ctx) -> Response:
    conversation = _conversation(ctx)
    text = ctx.form.get("text", "")
    takeover.reply(ctx.db, conversation, ctx.user, text)
    ctx.audit("reply", f"conversation:{conversation.id}", text.strip()[:200])
    return ctx.redirect(_back(conversation), notice="Reply sent.")


def note(ctx: Ctx) -> Response:
    conversation = _conversation(ctx)
    added = takeover.add_note(ctx.db, conversation, ctx.user, ctx.form.get("text", ""))
    ctx.audit("note", f"conversation:{conversation.id}", f"note:{added.id}")
    return ctx.redirect(_back(conversation), notice="Private note added.")


def transfer(ctx: Ctx) -> Response:
    conversation = _conversation(ctx)
    key = ctx.form.get("department", "")
    request = takeover.transfer(ctx.db, conversation, ctx.user, key)
    ctx.audit("transfer", f"conversation:{conversation.id}", f"to {key}")
    team = request.department.name if request.department else key
    return ctx.redirect(f"{PREFIX}/queue", notice=f"Transferred to the {team} team.")


def priority(ctx: Ctx) -> Response:
    conversation = _conversation(ctx)
    try:
        level = int(ctx.form.get("priority", ""))
    except ValueError as exc:
        raise TakeoverError("choose a priority") from exc
    takeover.set_priority(ctx.db, conversation, level)
    label = PRIORITY_LABELS.get(level, str(level))
    ctx.audit("priority", f"conversation:{conversation.id}", f"priority {label}")
    return ctx.redirect(_back(conversation), notice=f"Priority set to {label}.")


def create_case(ctx: Ctx) -> Response:
    conversation = _conversation(ctx)
    case = cases.open_case(
        ctx.db,
        citizen_id=conversation.citizen_id,
        category_key=ctx.form.get("category", ""),
        description=ctx.form.get("description", ""),
        location=ctx.form.get("location"),
        channel=conversation.channel,
        conversation_id=conversation.id,
        actor=ctx.actor,
    )
    ctx.audit("case_create", f"case:{case.id}", f"citizen:{case.citizen_id} ref {case.reference}")
    return ctx.redirect(f"{PREFIX}/cases/{case.id}", notice=f"Case {case.reference} opened.")


def _case(ctx: Ctx) -> Case:
    case = ctx.db.get(Case, int(ctx.param("id")))
    if case is None:
        raise CaseError("there is no such case")
    return case


def case_status(ctx: Ctx) -> Response:
    case = _case(ctx)
    wanted = ctx.form.get("status", "")
    if wanted not in {s.value for s in CaseStatus}:
        raise CaseError("choose the new status")
    before = case.status
    note = ctx.form.get("note", "").strip()[:2000]
    cases.change_status(ctx.db, case, CaseStatus(wanted), actor=ctx.actor, note=note)
    ctx.audit("case_status", f"case:{case.id}", f"{before.value} → {wanted}: {note}"[:2000])
    return ctx.redirect(
        f"{PREFIX}/cases/{case.id}", notice=f"Status changed to {wanted.replace('_', ' ')}."
    )


def case_assign(ctx: Ctx) -> Response:
    case = _case(ctx)
    chosen = ctx.form.get("assignee", "")
    assignee = ctx.db.get(StaffUser, int(chosen)) if chosen.isdigit() else None
    if chosen and assignee is None:
        raise CaseError("there is no such member of staff")
    cases.assign(ctx.db, case, assignee, actor=ctx.actor)
    who = assignee.username if assignee else "nobody"
    ctx.audit("case_assign", f"case:{case.id}", f"assigned to {who}")
    return ctx.redirect(f"{PREFIX}/cases/{case.id}", notice=f"Assigned to {who}.")


def create_staff(ctx: Ctx) -> Response:
    try:
        role = StaffRole(ctx.form.get("role", "agent"))
    except ValueError as exc:
        raise StaffError("choose a role") from exc
    user = staff.create_user(
        ctx.db,
        ctx.form.get("username", ""),
        ctx.form.get("password", ""),
        role=role,
        display_name=ctx.form.get("display_name") or None,
        department_key=ctx.form.get("department") or None,
    )
    ctx.audit("staff_create", f"staff:{user.id}", f"{user.username} as {role.value}")
    return ctx.redirect(f"{PREFIX}/admin/staff", notice=f"Account {user.username} created.")


def set_active(ctx: Ctx) -> Response:
    chosen = ctx.form.get("user_id", "")
    member = ctx.db.get(StaffUser, int(chosen)) if chosen.isdigit() else None
    back = f"{PREFIX}/admin/staff"
    if member is None:
        return ctx.redirect(back, error="There is no such member of staff.")
    if member.id == ctx.user.id:
        return ctx.redirect(back, error="You cannot deactivate your own account.")
    member.active = ctx.form.get("active") == "1"
    action = "staff_activate" if member.active else "staff_deactivate"
    ctx.audit(action, f"staff:{member.id}", member.username)
    state = "reactivated" if member.active else "deactivated (signed out everywhere)"
    return ctx.redirect(back, notice=f"{member.username} {state}.")
