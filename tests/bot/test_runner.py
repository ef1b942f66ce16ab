"""The engine's command line survives any auth token (one starting with "-" once stopped
`make run` with "expected one argument")."""

from __future__ import annotations

from pathlib import Path

from bot.runner import Stack, StackConfig


def test_an_auth_token_starting_with_a_dash_is_passed_as_one_argument(tmp_path: Path):
    config = StackConfig(database_url="sqlite://", state_dir=tmp_path, auth_token="-Xy_z")
    engine = Stack(config).commands()["engine"]
    assert "--auth-token=-Xy_z" in engine
    assert "-Xy_z" not in engine
