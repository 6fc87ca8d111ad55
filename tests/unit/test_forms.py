"""The forms' common base: single-line fields stay on one line, in every form of the portal."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
from flask import Flask
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import EmailField, HiddenField, PasswordField, SearchField, StringField, TextAreaField
from wtforms.fields.core import UnboundField
from wtforms.validators import ValidationError

import cloudcodes
from cloudcodes.forms import ONE_LINE_MESSAGE, PortalForm


class SampleForm(PortalForm):
    class Meta:
        csrf = False

    name = StringField("Name")
    email = EmailField("E-mail")
    search = SearchField("Search")
    hidden = HiddenField()
    notes = TextAreaField("Notes")
    password = PasswordField("Password")


@pytest.fixture(autouse=True)
def request_context():
    """Flask-WTF reads its settings from the app: a bare one is enough, no database."""
    with Flask(__name__).test_request_context():
        yield


def sample(**data: str) -> SampleForm:
    return SampleForm(formdata=MultiDict(data))


@pytest.mark.parametrize("typed", ["Ana\r\nBcc: x@evil.example", "Ana\nB", "Ana\rB", "Ana\tB"])
def test_a_line_break_or_a_tab_in_a_single_line_field_is_refused(typed):
    form = sample(name=typed, email=typed, search=typed, hidden=typed)
    assert not form.validate()
    assert form.errors == {
        "name": [ONE_LINE_MESSAGE],
        "email": [ONE_LINE_MESSAGE],
        "search": [ONE_LINE_MESSAGE],
        "hidden": [ONE_LINE_MESSAGE],
    }


def test_text_areas_and_passwords_keep_what_was_typed():
    form = sample(name="Ana Bauer", notes="First line\r\nsecond line\twith a tab", password="pass\tword")
    assert form.validate(), form.errors


def test_the_extra_validators_given_still_run():
    def refuse(form, field):
        raise ValidationError("Not this one.")

    form = sample(name="Bob\nX", email="bob@example.com")
    assert not form.validate(extra_validators={"email": [refuse], "name": [refuse]})
    assert form.errors == {"name": [ONE_LINE_MESSAGE, "Not this one."], "email": ["Not this one."]}


def _all_forms() -> list[type[FlaskForm]]:
    for module in pkgutil.walk_packages(cloudcodes.__path__, "cloudcodes."):
        importlib.import_module(module.name)
    found, todo = [], list(FlaskForm.__subclasses__())
    while todo:
        form = todo.pop()
        todo.extend(form.__subclasses__())
        if form.__module__.startswith("cloudcodes.") and form is not PortalForm:
            found.append(form)
    return found


def _has_single_line_field(form: type[FlaskForm]) -> bool:
    return any(
        isinstance(value, UnboundField)
        and issubclass(value.field_class, StringField)
        and not issubclass(value.field_class, TextAreaField | PasswordField)
        for _, value in inspect.getmembers(form)
    )


def test_every_form_with_a_single_line_field_derives_from_the_portals_base():
    forms = _all_forms()
    assert any(form.__name__ == "ResellerApplicationForm" for form in forms)  # the walk sees them
    missing = sorted(
        f"{form.__module__}.{form.__qualname__}"
        for form in forms
        if _has_single_line_field(form) and not issubclass(form, PortalForm)
    )
    assert not missing, f"derive these from cloudcodes.forms.PortalForm: {sorted(missing)}"
