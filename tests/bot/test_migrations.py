"""Migrations build the schema from empty, match the models, and can be rolled back."""

import os

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from bot.cli import alembic_config, migrate
from bot.db import make_engine
from bot.models import Base

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


@pytest.fixture(params=BACKENDS)
def empty_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    from tests.conftest import reset_postgres

    # A database of its own, so the session-wide CRM fixture is left alone.
    base = os.environ["TEST_DATABASE_URL"]
    admin = make_engine(base.rsplit("/", 1)[0] + "/postgres").execution_options(
        isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.exec_driver_sql("DROP DATABASE IF EXISTS civicline_migrations")
        conn.exec_driver_sql("CREATE DATABASE civicline_migrations")
    admin.dispose()
    url = base.rsplit("/", 1)[0] + "/civicline_migrations"
    reset_postgres(url)
    return url


def test_upgrade_from_empty_to_head_matches_the_models(empty_url):
    migrate(empty_url)
    engine = make_engine(empty_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        tables = set(inspect(conn).get_table_names())
    engine.dispose()
    assert diff == [], f"models and migrations differ: {diff}"
    assert {
        "citizens",
        "channel_identities",
        "conversations",
        "messages",
        "cases",
        "case_events",
        "services",
        "case_categories",
        "departments",
        "offices",
        "handoff_requests",
    } <= tables


def test_downgrade_to_base_and_upgrade_again(empty_url):
    migrate(empty_url)
    command.downgrade(alembic_config(empty_url), "base")
    engine = make_engine(empty_url)
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    migrate(empty_url)
