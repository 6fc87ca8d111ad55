"""Forms of the console's mail page (``/admin/mail``)."""

from __future__ import annotations

from flask_wtf import FlaskForm


class RetryMailForm(FlaskForm):
    """A button: only its CSRF token is checked; whether the message can be retried is the service's call."""
