"""Folding text for search: what is typed and what is stored are compared in one plain form.

"bucher" finds "Bücher Söhne", "strasse" finds "Straße", "OLIVIA" finds "olivia@…". Pure: no Flask.
"""

from __future__ import annotations

import unicodedata

# Letters that carry no combining mark to strip, written as people type them without the accent.
_LETTERS = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "đ": "d", "ł": "l", "þ": "th", "ı": "i", "ð": "d"})


def fold(text: str) -> str:
    """Lower case, without accents, with runs of spaces made one: the form search compares."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char)).translate(_LETTERS)
    return " ".join(plain.split())


def search_text(*values: str | None) -> str:
    """The stored search column of a row: its searchable values folded, one per line."""
    return "\n".join(fold(value) for value in values if value)
