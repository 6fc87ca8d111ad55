"""Response headers every page carries, and the proxy set-up that makes client addresses true."""

from __future__ import annotations

import re

from flask import Flask, Response, abort, request
from werkzeug.middleware.proxy_fix import ProxyFix

# What no field, query parameter or address part may carry: the C0 and C1 control characters but
# tab, newline and carriage return, and the Unicode line and paragraph separators. Databases refuse
# NUL, mail headers refuse line breaks, and none of them is ever typed on purpose.
FORBIDDEN_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")
CONTROL_CHARACTER_MESSAGE = (
    "What you sent contains a control character (such as a NUL byte, or a line separator copied from "
    "another program), which cannot be used here. Remove it or type the text again, then send it once more."
)

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)


def register(app: Flask) -> None:
    hops = int(app.config.get("PROXY_HOPS") or 0)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

    @app.before_request
    def refuse_control_characters() -> None:
        """One place, at the edge: such input is answered 400 with a clear message, before any code sees it.

        The API is left to its own validation, which answers every field in its documented words.
        """
        if request.blueprint == "api":
            return
        values = [*request.args.values(), *(request.view_args or {}).values()]
        if request.form:
            values.extend(value for _, value in request.form.items(multi=True))
        if any(isinstance(value, str) and FORBIDDEN_CHARACTERS.search(value) for value in values):
            abort(400, CONTROL_CHARACTER_MESSAGE)

    @app.after_request
    def add_security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if app.config.get("HTTPS"):
            headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
        if request.endpoint != "static" and request.cookies.get(app.config["SESSION_COOKIE_NAME"]):
            # Pages seen while logged in are not kept by shared caches or the back button.
            headers.setdefault("Cache-Control", "no-store")
        return response
