"""Phone numbers: whole fields to E.164, and a number found in what a citizen typed."""

import pytest

from bot.phones import display, find_e164, to_e164


def test_a_field_is_normalised_to_e164():
    assert to_e164("+1 (555) 010-0123") == "+15550100123"
    assert to_e164("555 010 0123") == "+15550100123"
    assert to_e164("hello") is None


@pytest.mark.parametrize(
    "text",
    ["555 010 0123", "call me on (555) 010-0123 please", "it's +1 555-010-0123, thanks"],
)
def test_a_number_is_found_in_free_text(text):
    assert find_e164(text, "US") == "+15550100123"


@pytest.mark.parametrize("text", ["", "tomorrow", "555 0100", "1234-5678", "12 Elm Road"])
def test_no_number_or_an_incomplete_one_is_none(text):
    # a local number without its area code, or a case reference, cannot be called back
    assert find_e164(text, "US") is None


def test_other_countries_keep_their_code():
    assert find_e164("+44 20 7946 0958", "US") == "+442079460958"


def test_display_reads_back_an_e164_number():
    assert display("+15550100123") == "+1 555-010-0123"
