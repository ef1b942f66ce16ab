"""Case references: 8 random digits, the last a Luhn check digit, shown as `1234-5678`.

Random (not sequential) so that nobody can guess a neighbour's case; the check digit catches
every single mistyped digit and most swaps of two neighbouring digits.
"""

from __future__ import annotations

import re
import secrets

REFERENCE_LENGTH = 8
DIGIT_WORDS = {
    "zero": "0",
    "nought": "0",
    "oh": "0",
    "o": "0",
    "one": "1",
    "two": "2",
    "to": "2",
    "too": "2",
    "three": "3",
    "four": "4",
    "for": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
# 8 digits, optionally grouped by spaces, dashes or dots ("1234-5678", "1234 5678", "12345678").
_CANDIDATE = re.compile(r"(?<!\d)(\d(?:[\s.\-]?\d){6,9})(?!\d)")


class InvalidReference(ValueError):
    """The text holds something that looks like a case number but is not a valid one."""


def luhn_check_digit(body: str) -> str:
    """The digit that makes `body + digit` pass the Luhn check."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def is_valid(reference: str) -> bool:
    return (
        len(reference) == REFERENCE_LENGTH
        and reference.isdigit()
        and luhn_check_digit(reference[:-1]) == reference[-1]
    )


def new_reference() -> str:
    """A fresh random reference (uniqueness is the caller's job: the column is unique)."""
    body = "".join(secrets.choice("0123456789") for _ in range(REFERENCE_LENGTH - 1))
    return body + luhn_check_digit(body)


def display(reference: str) -> str:
    return f"{reference[:4]}-{reference[4:]}"


def _words_to_digits(text: str) -> str:
    """Turn spoken digits ("one two three four") into digits; other words are kept."""
    return " ".join(DIGIT_WORDS.get(w, w) for w in re.split(r"[\s,]+", text.lower()) if w)


def find_reference(text: str) -> str | None:
    """Return the canonical 8-digit reference in `text`, or None if there is no candidate.

    Raises `InvalidReference` when the text has a number of about the right length that is not a
    valid reference (wrong length or a bad check digit), so callers can reprompt.
    """
    for source in (text, _words_to_digits(text)):
        match = _CANDIDATE.search(source)
        if match:
            digits = re.sub(r"\D", "", match.group(1))
            if is_valid(digits):
                return digits
            raise InvalidReference(digits)
    return None
