"""Error pages for people and JSON errors for the API, in the shape SPEC.md fixes."""

from __future__ import annotations

import time

from flask import Flask, g, jsonify, make_response, render_template, request
from flask.typing import ResponseReturnValue
from flask_limiter import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from sqlalchemy import exc as sqlalchemy_errors
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed

from cloudcodes import formatting
from cloudcodes.extensions import db, limiter, login_manager

# How long a client should wait before trying again while the database cannot be reached.
DATABASE_RETRY_AFTER_SECONDS = 30

ADVICE = {
    400: "The request could not be understood. Go back, check what you entered and try again.",
    403: "You do not have access to this page. If you think you should, ask your account owner or CloudCodes.",
    404: "We could not find that page. Check the address, or start again from the home page.",
    405: "This page cannot be used that way. Go back and use the page's own buttons and links.",
    413: "What you sent is too large. Send a smaller file or less text.",
    429: "Too many attempts. Wait a little and try again.",
    500: "Something went wrong on our side and nothing was saved. Try again in a moment; "
    "if it keeps happening, write to us.",
    503: "The site is briefly unavailable and nothing was saved. Please try again in a minute.",
}
API_UNAVAILABLE = (
    "The service is briefly unavailable and nothing was recorded. "
    "Send the same request again after the number of seconds in the Retry-After header."
)


def database_unreachable(error: BaseException) -> bool:
    """The database could not be reached or the connection broke: the request may succeed if sent again."""
    if isinstance(error, (sqlalchemy_errors.OperationalError, sqlalchemy_errors.InterfaceError)):
        return True
    if isinstance(error, sqlalchemy_errors.TimeoutError):  # no connection free in the pool
        return True
    return isinstance(error, sqlalchemy_errors.DBAPIError) and error.connection_invalidated


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def error_response(code: int, title: str, message: str) -> ResponseReturnValue:
    if wants_json():
        slug = title.lower().replace(" ", "_")
        if code == 404:
            message = "There is nothing at this address. Check the path against /api/v1/openapi.json."
        elif code == 405:
            message = "This endpoint does not accept that method; the Allow header lists the ones it does."
        return jsonify(error={"code": slug, "message": message}), code
    return render_template("errors/error.html", code=code, title=title, message=message), code


def seconds_until_reset() -> int:
    """How long the limit that was hit lasts, for the page and the Retry-After header."""
    limit = limiter.current_limit
    if limit is None:
        return 60
    return max(int(limit.reset_at - time.time()), 1)


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def handle_csrf_error(error: CSRFError) -> ResponseReturnValue:
        return error_response(
            400,
            "Form expired",
            "This form was open too long, or was sent from another site, so nothing was saved. "
            "Go back, reload the page and send it again.",
        )

    @app.errorhandler(RateLimitExceeded)
    def handle_rate_limited(error: RateLimitExceeded) -> ResponseReturnValue:
        retry_after = seconds_until_reset()
        if retry_after >= 90:
            wait = formatting.plural(retry_after // 60 + 1, "minute")
        else:
            wait = formatting.plural(max(retry_after, 1), "second")
        message = f"Too many attempts. For your security, please wait {wait} and try again."
        response = make_response(error_response(429, "Too Many Requests", message))
        response.headers["Retry-After"] = str(max(retry_after, 1))
        return response

    @app.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException) -> ResponseReturnValue:
        code = error.code or 500
        # A page that aborts with its own description says what to do better than the generic advice.
        given = error.description if error.description != type(error).description else None
        message = given or ADVICE.get(code) or error.description or ""
        response = make_response(error_response(code, error.name, message))
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(sqlalchemy_errors.DBAPIError)
    @app.errorhandler(sqlalchemy_errors.TimeoutError)
    def handle_database_error(error: Exception) -> ResponseReturnValue:
        if not database_unreachable(error):
            raise error  # a real fault: the 500 handler answers it
        discard_session()
        # The page must not need the database: whoever is signed in is shown the public header.
        g._login_user = login_manager.anonymous_user()
        message = API_UNAVAILABLE if wants_json() else ADVICE[503]
        response = make_response(error_response(503, "Service Unavailable", message))
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(InternalServerError)
    def handle_server_error(error: InternalServerError) -> ResponseReturnValue:
        discard_session()
        return error_response(500, "Internal Server Error", ADVICE[500])


def discard_session() -> None:
    """Roll back whatever the request had begun; with the connection gone, rolling back can fail too."""
    try:
        db.session.rollback()
    except sqlalchemy_errors.SQLAlchemyError:
        db.session.close()
