"""Text for the ear and from the ear: what a phone caller hears and what their speech means.

`to_speech` turns the assistant's chat text into something a text-to-speech voice reads well:
no markdown, emoji or raw web addresses, bullets and line breaks become sentence pauses, case
numbers are read digit by digit. `spoken_digits` turns digits spoken one by one ("one two three
four five six seven eight", as a speech recogniser may transcribe a case number) into "12345678"
before the text goes to the engine, whose forms find case numbers with
`bot.references.find_reference`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from bot import references

WEBSITE = "our website"
EMAIL_ADDRESS = "the address on our website"

_MARKDOWN_LINK = re.compile(r"\[([^\]]+)\]\((?:[^)\s]+)\)")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_URL = re.compile(
    r"(?:(?:https?://|www\.)\S+?"
    r"|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:gov|com|org|net|edu|info|io|us|uk|example)\b(?:/\S*?)?)"
    r"(?=[.,;:!?)]*(?:\s|$))",
    re.IGNORECASE,
)
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|`)(?=\S)(.+?)(?<=\S)\1")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+", re.MULTILINE)
_BULLET = re.compile(r"^\s*(?:[-*•‣◦–—]|\d{1,2}[.)])\s+", re.MULTILINE)
_REFERENCE = re.compile(r"(?<![\d-])(\d{4})-?(\d{4})(?![\d-])")
_NUMBER_RANGE = re.compile(r"(\d)\s*–\s*(\d)")
_DASH = re.compile(r"\s+[–—]\s+|\s*—\s*")
_SPACES = re.compile(r"[ \t\u00a0]+")
_REPLACEMENTS = (("e.g.", "for example"), ("i.e.", "that is"), ("&", " and "), ("•", " "))
_SENTENCE_END = ".!?"

# Spoken digits. The homophones ("to", "for", "oh"…) count only inside a run of digits.
# Words that are digits only inside a run ("I want to talk to a person" has no digits).
_WORDS_AT_EDGES = frozenset({"to", "too", "for"})
_INTERJECTIONS = frozenset({"oh", "o"})  # "Oh, …" opens a sentence; "… seven oh" ends a number
_REPEAT = {"double": 2, "triple": 3}
_PUNCTUATION = ".,;:!?\"'()"
_MIN_RUN_TOKENS = 3  # "unit five 12 Main Street" stays as it is
_MIN_RUN_DIGITS = 4


def _is_symbol(ch: str) -> bool:
    """Emoji, pictographs and their joiners/selectors – nothing a voice should try to read."""
    if ch in "\u200d\u20e3" or "\ufe00" <= ch <= "\ufe0f":
        return True
    return unicodedata.category(ch) in ("So", "Sk", "Cs", "Co")


def read_digits(digits: str) -> str:
    """`"12345678"` → `"1 2 3 4, 5 6 7 8"`: read one digit at a time, with a pause midway."""
    digits = re.sub(r"\D", "", digits)
    if len(digits) == references.REFERENCE_LENGTH:
        return f"{' '.join(digits[:4])}, {' '.join(digits[4:])}"
    return " ".join(digits)


def to_speech(text: str) -> str:
    """Chat text → one paragraph a text-to-speech voice reads naturally."""
    text = unicodedata.normalize("NFC", text)
    text = _MARKDOWN_LINK.sub(r"\1", text)
    text = _EMAIL.sub(EMAIL_ADDRESS, text)
    text = _URL.sub(WEBSITE, text)
    text = _HEADING.sub("", text)
    text = _BULLET.sub("", text)
    text = _EMPHASIS.sub(r"\2", text)
    text = _REFERENCE.sub(lambda m: read_digits(m.group(1) + m.group(2)), text)
    text = _NUMBER_RANGE.sub(r"\1 to \2", text)
    text = _DASH.sub(", ", text)
    for old, new in _REPLACEMENTS:
        text = text.replace(old, new)
    text = "".join(ch for ch in text if not _is_symbol(ch))
    sentences = []
    for raw_line in text.splitlines():
        line = _SPACES.sub(" ", raw_line).strip(" ,;")
        if not line:
            continue
        if line[-1] == ":":
            line = line[:-1]
        if line and line[-1] not in _SENTENCE_END:
            line += "."
        sentences.append(line)
    return " ".join(sentences)


def choices_prompt(titles: Sequence[str], first: int = 1) -> str:
    """Buttons read out: `Say Fees or press 1, say Documents or press 2.`"""
    options = [
        f"say {to_speech(title).rstrip('.')} or press {number}"
        for number, title in enumerate(titles, start=first)
    ]
    if not options:
        return ""
    sentence = "; ".join(options)
    return sentence[0].upper() + sentence[1:] + "."


def _digits_of(word: str) -> str | None:
    """The digits a word stands for ("four" → "4", "1234-5678" → "12345678"), or None."""
    if word in references.DIGIT_WORDS:
        return references.DIGIT_WORDS[word]
    if re.fullmatch(r"\d+(?:-\d+)*", word):
        return word.replace("-", "")
    return None


def _is_digit_token(words: Sequence[str], k: int) -> bool:
    if _digits_of(words[k]) is not None:
        return True
    return words[k] in _REPEAT and k + 1 < len(words) and _digits_of(words[k + 1]) is not None


def _run_digits(words: Sequence[str]) -> str:
    digits, k = [], 0
    while k < len(words):
        if words[k] in _REPEAT and k + 1 < len(words):
            digits.append(_REPEAT[words[k]] * (_digits_of(words[k + 1]) or ""))
            k += 2
        else:
            digits.append(_digits_of(words[k]) or "")
            k += 1
    return "".join(digits)


def spoken_digits(text: str) -> str:
    """Join digits spoken one by one into a number; everything else is kept as it was.

    "status of one two three four five six seven eight" → "status of 12345678";
    "four oh one double five" → "40155". A run needs at least three words and four digits, a
    full stop ends it, and "to", "too", "for" at its edges are words, so "I want to talk to a
    person" and "unit five 12 Main Street" are left alone.
    """
    tokens = text.split()
    words = [t.strip(_PUNCTUATION).lower() for t in tokens]
    out: list[str] = []
    i = 0
    while i < len(tokens):
        j = i
        while j < len(tokens) and _is_digit_token(words, j):
            j += 2 if words[j] in _REPEAT else 1
            if tokens[j - 1][-1] in ".!?;:":
                break
        if j == i:
            out.append(tokens[i])
            i += 1
            continue
        start, end = i, j
        while start < end and (
            words[start] in _WORDS_AT_EDGES
            or (words[start] in _INTERJECTIONS and tokens[start][-1] in _PUNCTUATION)
        ):
            start += 1
        while end > start and words[end - 1] in _WORDS_AT_EDGES:
            end -= 1
        digits = _run_digits(words[start:end])
        if end - start >= _MIN_RUN_TOKENS and len(digits) >= _MIN_RUN_DIGITS:
            last = tokens[end - 1]
            trailing = last[len(last.rstrip(_PUNCTUATION)) :]
            out.extend([*tokens[i:start], digits + trailing, *tokens[end:j]])
        else:
            out.extend(tokens[i:j])
        i = j
    return " ".join(out)
