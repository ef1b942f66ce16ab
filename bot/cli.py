"""Command line: `python -m bot.cli {migrate,load-demo,create-staff,export-nlu,run,chat}`."""

from __future__ import annotations

import argparse
import getpass
import os
import signal
import sys
import threading

import httpx
from alembic import command
from alembic.config import Config

from bot import REPO_ROOT
from bot.catalogue import CatalogueError, load_catalogue
from bot.catalogue.loader import read_catalogue
from bot.catalogue.nlu_export import export_nlu, render_nlu
from bot.config import Settings, get_settings
from bot.db import make_engine, make_sessionmaker, transaction

NLU_FILE = REPO_ROOT / "data" / "nlu" / "catalogue.yml"


def alembic_config(database_url: str) -> Config:
    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def migrate(database_url: str) -> None:
    """Bring the database schema to the newest migration (creating the SQLite file if new)."""
    make_engine(database_url).dispose()  # creates the SQLite directory
    command.upgrade(alembic_config(database_url), "head")


def load_demo(settings: Settings) -> dict[str, int]:
    engine = make_engine(settings.database_url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            return load_catalogue(session, settings.catalogue_dir)
    finally:
        engine.dispose()


def ensure_demo_staff(settings: Settings) -> list[str]:
    """The demo console accounts (`make run`); returns the usernames created now."""
    from bot.services.staff import ensure_demo_staff as ensure

    engine = make_engine(settings.database_url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            return ensure(session)
    finally:
        engine.dispose()


def _cmd_create_staff(args: argparse.Namespace, settings: Settings) -> int:
    """Create a console account; the password comes from STAFF_PASSWORD or a prompt."""
    from bot.models import StaffRole
    from bot.services.staff import StaffError, create_user

    password = os.environ.get("STAFF_PASSWORD")
    if not password:
        if not sys.stdin.isatty():
            print("set STAFF_PASSWORD or run this in a terminal to type it", file=sys.stderr)
            return 2
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("the passwords differ; nothing created", file=sys.stderr)
            return 2
    migrate(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            user = create_user(
                session,
                args.username,
                password,
                role=StaffRole(args.role),
                display_name=args.name,
                department_key=args.department,
            )
            print(f"created {user.role.value} {user.username!r}; sign in at /staff/login")
    except StaffError as exc:
        print(f"not created: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    return 0


def _cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    migrate(settings.database_url)
    print("database is at the newest schema")
    return 0


def _cmd_load_demo(args: argparse.Namespace, settings: Settings) -> int:
    counts = load_demo(settings)
    print("demo catalogue loaded: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    return 0


def _cmd_export_nlu(args: argparse.Namespace, settings: Settings) -> int:
    if args.check:
        current = NLU_FILE.read_text(encoding="utf-8") if NLU_FILE.exists() else ""
        if current != render_nlu(read_catalogue(settings.catalogue_dir)):
            print(f"{NLU_FILE} is out of date: run `make train`", file=sys.stderr)
            return 1
        return 0
    changed = export_nlu(settings.catalogue_dir, NLU_FILE)
    print(f"{NLU_FILE.relative_to(REPO_ROOT)} {'updated' if changed else 'up to date'}")
    return 0


def _cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.runner import Stack, StackConfig, StackError

    migrate(settings.database_url)
    load_demo(settings)
    if settings.demo_staff:
        ensure_demo_staff(settings)
    config = StackConfig(
        database_url=settings.database_url,
        state_dir=settings.state_dir,
        host=settings.gateway_host,
        gateway_port=settings.gateway_port,
        rasa_port=httpx.URL(settings.rasa_url).port or 5005,
        actions_port=httpx.URL(settings.action_server_url).port or 5055,
        redis_url=args.redis_url or settings.redis_url or None,
    )
    if settings.rasa_auth_token:
        config.auth_token = settings.rasa_auth_token
    stack = Stack(config)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print("starting the engine, the action server and the gateway (about a minute)…")
    try:
        stack.start()
        stack.wait_healthy()
    except StackError as exc:
        print(f"could not start: {exc}", file=sys.stderr)
        stack.stop()
        return 1
    except KeyboardInterrupt:
        stack.stop()
        return 130
    print(f"\n{channel_summary(settings)}")
    print(
        f"\nCivicline is running.\n  Web chat:        {config.gateway_url}/\n"
        f"  REST webhook:    {config.gateway_url}/webhooks/rest/webhook\n"
        f"  Health:          {config.gateway_url}/healthz\n"
        f"  Staff console:   {config.gateway_url}/staff/\n"
        f"{_demo_login_hint(settings)}"
        f"  Terminal chat:   make chat\n  Logs:            {stack.log_dir}\n"
        "Press Ctrl-C to stop.",
        flush=True,
    )
    while not stop.wait(1.0):
        dead = [n for n, p in stack.processes.items() if p.poll() is not None]
        if dead:
            print(f"{', '.join(dead)} stopped unexpectedly; see {stack.log_dir}", file=sys.stderr)
            stack.stop()
            return 1
    print("\nstopping…", flush=True)
    stack.stop()
    print("stopped.")
    return 0


def _demo_login_hint(settings: Settings) -> str:
    if not settings.demo_staff:
        return ""
    from bot.services.staff import DEMO_PASSWORD

    return (
        f"    demo sign-in:  agent / supervisor / admin, password {DEMO_PASSWORD}\n"
        "                   (set DEMO_STAFF=false in production)\n"
    )


def channel_summary(settings: Settings) -> str:
    """One line per channel: on, or off and why (a channel without credentials is off)."""
    from connectors import telegram, twilio_sms, twilio_voice

    lines = ["Channels:", "  Web chat:  on"]
    for module in (telegram, twilio_sms, twilio_voice):
        channel, reason = module.channel_from_settings(settings)
        state = "on" if channel is not None else f"off ({reason})"
        lines.append(f"  {module.CHANNEL_NAME + ':':<10} {state}")
    return "\n".join(lines)


def _cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from bot.terminal_chat import chat

    return chat(args.url or settings.gateway_url, args.sender)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot.cli", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="upgrade the database to the newest schema")
    sub.add_parser("load-demo", help="load (or update) the demo catalogue; idempotent")
    staff = sub.add_parser(
        "create-staff",
        help="create a staff console account (password from STAFF_PASSWORD or a prompt)",
    )
    staff.add_argument("username")
    staff.add_argument("--role", choices=["agent", "supervisor", "admin"], default="admin")
    staff.add_argument("--name", default=None, help="display name (default: the username)")
    staff.add_argument("--department", default=None, help="department key, e.g. public_works")
    export = sub.add_parser("export-nlu", help="generate data/nlu/catalogue.yml")
    export.add_argument("--check", action="store_true", help="fail if the file is stale")
    run = sub.add_parser("run", help="start the whole assistant until Ctrl-C")
    run.add_argument(
        "--redis-url",
        default=None,
        help="use a Redis lock store (needed with several engine instances)",
    )
    chat = sub.add_parser("chat", help="chat with the running assistant in the terminal")
    chat.add_argument("--url", default=None, help="gateway URL (default: the configured one)")
    chat.add_argument("--sender", default=None, help="chat as this web sender id")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {
        "migrate": _cmd_migrate,
        "load-demo": _cmd_load_demo,
        "create-staff": _cmd_create_staff,
        "export-nlu": _cmd_export_nlu,
        "run": _cmd_run,
        "chat": _cmd_chat,
    }
    try:
        settings = get_settings()
        return handlers[args.command](args, settings)
    except CatalogueError as exc:
        print(f"catalogue error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # invalid settings (pydantic's ValidationError is a ValueError)
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
