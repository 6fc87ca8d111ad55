"""Errors under /api/v1, always JSON in the shape SPEC.md fixes: ``{"error": {"code", "message", "field"}}``.

``field`` is there only when one field of the request is at fault.  A view raises ``ApiError``
for an answer of its own; every other HTTP error raised under the blueprint (bad request, not
found, method not allowed, too many requests, a server error) gets an API-worded message here.
Paths that match no route at all never reach the blueprint: the app's handlers
(``cloudcodes.errors``) answer those in the same shape, as they do for anything under /api/.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify
from flask_limiter import RateLimitExceeded
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed

from cloudcodes.api import schemas
from cloudcodes.errors import seconds_until_reset
from cloudcodes.extensions import db

MESSAGES = {
    400: "The request could not be read. Check it against /api/v1/openapi.json.",
    404: "There is no such resource. Check the path against /api/v1/openapi.json.",
    405: "This resource does not answer that method. The Allow header lists the ones it does.",
    413: "The request body is too large.",
    500: "Something went wrong on our side and nothing was recorded. Send the same request again in a moment.",
}


class ApiError(Exception):
    """An answer other than success, raised by an API view: ``code`` for programs, ``message`` for people."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    detail = schemas.ErrorDetail.model_construct(code=code, message=message, field=field)
    return schemas.Error.model_construct(error=detail).model_dump(mode="json", exclude_none=True)


def error_response(status: int, code: str, message: str, field: str | None = None) -> Response:
    response = jsonify(error_body(code, message, field))
    response.status_code = status
    return response


def _slug(error: HTTPException) -> str:
    return (error.name or "error").lower().replace(" ", "_").replace("'", "")


def register(blueprint: Blueprint) -> None:
    @blueprint.errorhandler(ApiError)
    def handle_api_error(error: ApiError) -> Response:
        return error_response(error.status, error.code, error.message, error.field)

    @blueprint.errorhandler(RateLimitExceeded)
    def handle_rate_limited(error: RateLimitExceeded) -> Response:
        retry_after = max(seconds_until_reset(), 1)
        response = error_response(
            429,
            "rate_limited",
            f"Too many requests from this client ({error.description}). Wait {retry_after} seconds and try again.",
        )
        response.headers["Retry-After"] = str(retry_after)
        return response

    @blueprint.errorhandler(InternalServerError)
    def handle_server_error(error: InternalServerError) -> Response:
        db.session.rollback()
        return error_response(500, "internal_error", MESSAGES[500])

    @blueprint.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException) -> Response:
        status = error.code or 500
        response = error_response(status, _slug(error), MESSAGES.get(status) or error.description or "")
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response
