"""Settings are validated at start; bad values stop the command with a clear message."""

import pytest
from pydantic import ValidationError

from bot import cli
from bot.config import Settings, get_settings


def test_time_zone_defaults_to_the_catalogues_city():
    assert str(Settings(city_timezone="").tz) == "America/Chicago"
    assert str(Settings(city_timezone="Europe/Lisbon").tz) == "Europe/Lisbon"


def test_unknown_time_zone_is_refused():
    with pytest.raises(ValidationError, match="unknown time zone"):
        Settings(city_timezone="Mars/Olympus_Mons")


def test_cli_reports_bad_configuration_without_a_traceback(monkeypatch, capsys):
    monkeypatch.setenv("GATEWAY_PORT", "not-a-port")
    get_settings.cache_clear()
    try:
        assert cli.main(["migrate"]) == 2
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert "configuration error" in err and "gateway_port" in err
    assert "Traceback" not in err
