"""Logs, request ids, metrics and error reporting for operators."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Set up logging, request ids, /metrics and Sentry for ``app`` (filled in by issue #12)."""
