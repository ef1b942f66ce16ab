"""Migrations build the schema from empty, match the models, and can be rolled back."""

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from bot.cli import alembic_config, migrate
from bot.db import make_engine
from bot.models import Base
from tests.conftest import BACKENDS, sibling_postgres_url


@pytest.fixture(params=BACKENDS)
def empty_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    return sibling_postgres_url("migrations")


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
