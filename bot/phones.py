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
