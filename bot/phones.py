"""Phone numbers in E.164, the form SMS and voice identities and citizen records use."""

from __future__ import annotations

import phonenumbers


def to_e164(raw: str | None, default_region: str = "US") -> str | None:
    """`"+1 (555) 010-0123"` → `"+15550100123"`; None when it is not a plausible number."""
    if not raw:
        return None
    try:
        number = phonenumbers.parse(raw.strip(), default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def find_e164(text: str | None, default_region: str = "US") -> str | None:
    """The first complete phone number in free text ("call me on (555) 010-0123 please"), in
    E.164; None when there is none. Local-only numbers (no area code) do not count: nobody
    could be called back on them."""
    if not text:
        return None
    for match in phonenumbers.PhoneNumberMatcher(
        text, default_region, leniency=phonenumbers.Leniency.POSSIBLE
    ):
        reason = phonenumbers.is_possible_number_with_reason(match.number)
        if reason == phonenumbers.ValidationResult.IS_POSSIBLE:
            return phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
    return None


def display(e164: str) -> str:
    """`"+15550100123"` → `"+1 555-010-0123"`, for reading back to a citizen."""
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
