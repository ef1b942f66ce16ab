"""`python -m bot.cli create-staff`: the documented way to create the first admin."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from bot import cli
from bot.config import get_settings
from bot.db import make_engine, make_sessionmaker, transaction
from bot.models import StaffRole, StaffUser
from bot.services.staff import authenticate


@pytest.fixture
def database(monkeypatch, sqlite_url):
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    yield sqlite_url
    get_settings.cache_clear()


def users(url):
    engine = make_engine(url)
    with transaction(make_sessionmaker(engine)) as session:
        found = {u.username: u.role for u in session.scalars(select(StaffUser))}
        ok = authenticate(session, "root", "a long enough secret") is not None
    engine.dispose()
    return found, ok


def test_the_first_admin_is_created_with_a_password_from_the_environment(
    database, monkeypatch, capsys
):
    monkeypatch.setenv("STAFF_PASSWORD", "a long enough secret")
    assert cli.main(["create-staff", "root", "--name", "Rita Root"]) == 0
    assert "created admin 'root'" in capsys.readouterr().out
    assert users(database) == ({"root": StaffRole.ADMIN}, True)

    assert cli.main(["create-staff", "root"]) == 2
    assert "already" in capsys.readouterr().err


def test_bad_input_creates_nobody_and_says_why(database, monkeypatch, capsys):
    monkeypatch.setenv("STAFF_PASSWORD", "short")
    assert cli.main(["create-staff", "ann", "--role", "agent"]) == 2
    assert "at least 10 characters" in capsys.readouterr().err
    monkeypatch.setenv("STAFF_PASSWORD", "a long enough secret")
    assert cli.main(["create-staff", "ann", "--department", "atlantis"]) == 2
    assert "unknown department" in capsys.readouterr().err
    monkeypatch.delenv("STAFF_PASSWORD")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert cli.main(["create-staff", "ann"]) == 2
    assert "STAFF_PASSWORD" in capsys.readouterr().err
    assert users(database)[0] == {}
