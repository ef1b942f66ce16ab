"""Shared fixtures: a migrated CRM database (SQLite always, PostgreSQL when TEST_DATABASE_URL is
set), rolled back after every test, with the demo catalogue loaded."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, make_url, text
from sqlalchemy.orm import Session

from bot import REPO_ROOT
from bot.catalogue import load_catalogue
from bot.cli import migrate
from bot.db import make_engine, make_sessionmaker, transaction

CATALOGUE = REPO_ROOT / "data" / "catalogue"


# SQLite always; PostgreSQL too when TEST_DATABASE_URL names a database (as .ci/run does).
BACKENDS = ["sqlite", "postgresql"] if os.environ.get("TEST_DATABASE_URL") else ["sqlite"]


def reset_postgres(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def sibling_postgres_url(suffix: str) -> str:
    """An empty database beside TEST_DATABASE_URL's, for tests that commit or migrate on their
    own (the shared CRM fixture is left alone)."""
    url = make_url(os.environ["TEST_DATABASE_URL"])
    own = url.set(database=f"{url.database}_{suffix}")
    admin = make_engine(url.render_as_string(hide_password=False)).execution_options(
        isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        if not conn.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": own.database}
        ):
            conn.execute(text(f'CREATE DATABASE "{own.database}"'))
    admin.dispose()
    sibling = own.render_as_string(hide_password=False)
    reset_postgres(sibling)
    return sibling


def postgres_copy(template_url: str, suffix: str) -> str:
    """A new database beside TEST_DATABASE_URL's, copied from `template_url`'s (PostgreSQL's
    CREATE DATABASE … TEMPLATE: much faster than migrating again)."""
    url = make_url(os.environ["TEST_DATABASE_URL"])
    own = url.set(database=f"{url.database}_{suffix}")
    template = make_url(template_url).database
    admin = make_engine(url.render_as_string(hide_password=False)).execution_options(
        isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{own.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{own.database}" TEMPLATE "{template}"'))
    admin.dispose()
    return own.render_as_string(hide_password=False)


def prepared_database(url: str) -> Engine:
    """Migrate `url` to head and load the demo catalogue; return an engine for it."""
    migrate(url)
    engine = make_engine(url)
    with transaction(make_sessionmaker(engine)) as session:
        load_catalogue(session, CATALOGUE)
    return engine


@pytest.fixture(scope="session", params=BACKENDS)
def db_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("db") / "crm.db"
        url = f"sqlite:///{path}"
    else:
        url = os.environ["TEST_DATABASE_URL"]
        reset_postgres(url)
    engine = prepared_database(url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(db_engine: Engine) -> Iterator[Session]:
    """A session whose work is rolled back after the test (commits become savepoints)."""
    with db_engine.connect() as conn:
        outer = conn.begin()
        session = Session(
            bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield session
        finally:
            session.close()
            outer.rollback()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite database with the catalogue, copied for each test that wants its
    own (migrating takes a second; copying a file, a millisecond)."""
    path = tmp_path_factory.mktemp("template") / "civicline.db"
    prepared_database(f"sqlite:///{path}").dispose()  # closing the last connection
    assert not path.with_name(path.name + "-wal").exists()  # …checkpoints the WAL
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, _sqlite_template: Path) -> str:
    """A fresh, migrated SQLite database with the catalogue, for tests that need their own."""
    path = tmp_path / "civicline.db"
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite:///{path}"
