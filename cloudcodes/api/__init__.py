"""The billing API under /api/v1: JSON only, no sessions, no CSRF; every request signed (SPEC.md).

One guard checks the ``CloudCodes-Signature`` header for every endpoint but the public OpenAPI
document. The webhook secret setting (``CLOUDCODES_WEBHOOK_SECRET``) may hold several secrets,
separated by commas (``new,old``), so a rotation needs no downtime: a request signed with any of
them holds. Without a secret the API refuses everything with a 503: it never accepts unsigned requests.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from cloudcodes import clock
from cloudcodes.api.errors import error_response, register
from cloudcodes.api.signatures import HEADER, SignatureError, verify
from cloudcodes.extensions import csrf

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(blueprint)
register(blueprint)

PUBLIC_ENDPOINTS = frozenset({"api.openapi_document"})
SIGNATURE_ERROR_CODES = {
    "missing": "missing_signature",
    "malformed": "malformed_signature",
    "stale": "stale_signature",
    "mismatch": "bad_signature",
}


def webhook_secrets() -> list[str]:
    """The secrets a request may be signed with: ``WEBHOOK_SECRET`` split at commas, blanks dropped.

    A JSON list (``CLOUDCODES_WEBHOOK_SECRET='["new", "old"]'``, which the environment loader parses)
    works too.
    """
    configured = current_app.config.get("WEBHOOK_SECRET")
    if configured is None:
        return []
    values = configured if isinstance(configured, list | tuple) else str(configured).split(",")
    return [secret for secret in (str(value).strip() for value in values) if secret]


@blueprint.before_request
def require_signature() -> ResponseReturnValue | None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    secrets = webhook_secrets()
    if not secrets:
        current_app.logger.error("API request refused: CLOUDCODES_WEBHOOK_SECRET is not set.")
        return error_response(
            503,
            "api_not_configured",
            "The billing API is not configured on this server (no webhook secret is set), so it accepts no "
            "requests. Ask CloudCodes to set CLOUDCODES_WEBHOOK_SECRET.",
        )
    try:
        verify(request.headers.get(HEADER), request.get_data(cache=True), secrets, int(clock.now().timestamp()))
    except SignatureError as error:
        current_app.logger.warning(
            "API request refused (%s signature): %s %s", error.reason, request.method, request.path
        )
        response = error_response(401, SIGNATURE_ERROR_CODES[error.reason], error.message)
        response.headers["WWW-Authenticate"] = HEADER
        return response
    return None


@blueprint.after_request
def do_not_cache(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@blueprint.get("/openapi.json")
def openapi_document() -> ResponseReturnValue:
    return jsonify(openapi.document())


from cloudcodes.api import checkouts, openapi, purchases, referral_codes  # noqa: E402, F401 - the endpoints register on the blueprint
