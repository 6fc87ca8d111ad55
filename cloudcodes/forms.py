"""The base of the portal's forms: what every form refuses the same way, in one place.

A single-line field (a name, an address, a phone number, a search: every text field that is not a
text area or a password) never holds a line break or a tab. Browsers do not put one there, and such
a value could break out of a mail header (a contact name becomes ``To:``) or a log line; it is
refused next to its field with a clear message instead. The other control characters are refused
earlier, for the whole request (``cloudcodes.security``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flask_wtf import FlaskForm
from wtforms import Field, PasswordField, StringField, TextAreaField
from wtforms.validators import ValidationError

ONE_LINE_MESSAGE = "This must be on one line: remove the line breaks and tabs from it."
_LINE_BREAKS = re.compile("[\t\n\r]")


def is_single_line(field: Field) -> bool:
    # Passwords are compared as typed and never shown nor sent anywhere: they are left as they are.
    return isinstance(field, StringField) and not isinstance(field, TextAreaField | PasswordField)


def single_line(form: Any, field: Field) -> None:
    """A validator: no line break (CR, LF) and no tab in the field's value."""
    if isinstance(field.data, str) and _LINE_BREAKS.search(field.data):
        raise ValidationError(ONE_LINE_MESSAGE)


class PortalForm(FlaskForm):
    """Every form of the portal derives from this one, so each single-line field stays on one line."""

    def validate(self, extra_validators: Mapping[str, Sequence[Callable[..., Any]]] | None = None) -> bool:
        extra = {name: list(validators) for name, validators in (extra_validators or {}).items()}
        for name, field in self._fields.items():
            if is_single_line(field):
                extra.setdefault(name, []).insert(0, single_line)
        return super().validate(extra)
