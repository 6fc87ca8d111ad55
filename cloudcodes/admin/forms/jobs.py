"""Forms of the console's Jobs page (``/admin/jobs``)."""

from __future__ import annotations

from flask_wtf import FlaskForm


class RunJobForm(FlaskForm):
    """The "Run now" button: only its CSRF token is checked."""
