"""Calling the billing API as the billing system does: every request signed (SPEC.md)."""

from __future__ import annotations

import json
import time
from typing import Any

from cloudcodes.api.signatures import HEADER, sign

TEST_SECRET = "test-webhook-secret"  # the test app's WEBHOOK_SECRET (tests.conftest.make_test_app)


def signature_header(body: bytes, *, secret: str = TEST_SECRET, timestamp: int | None = None) -> dict[str, str]:
    """The signature header for ``body`` sent now (or at ``timestamp``), as the ``headers`` of a request."""
    return {HEADER: sign(secret, int(time.time()) if timestamp is None else timestamp, body)}


def signed_get(client, path: str, *, secret: str = TEST_SECRET, timestamp: int | None = None, **kwargs: Any):
    """GET ``path`` signed over the empty body; ``kwargs`` go to the client (``query_string``, ``headers``...)."""
    headers = {**signature_header(b"", secret=secret, timestamp=timestamp), **kwargs.pop("headers", {})}
    return client.get(path, headers=headers, **kwargs)


def signed_post(
    client, path: str, json_body: Any, *, secret: str = TEST_SECRET, timestamp: int | None = None, **kwargs: Any
):
    """POST ``json_body`` to ``path`` as JSON, signed over exactly the bytes sent.

    ``json_body`` may be bytes or str too, sent as is (for a body that is not valid JSON, say).
    """
    if isinstance(json_body, bytes):
        body = json_body
    elif isinstance(json_body, str):
        body = json_body.encode("utf-8")
    else:
        body = json.dumps(json_body).encode("utf-8")
    headers = {
        "Content-Type": "application/json",
        **signature_header(body, secret=secret, timestamp=timestamp),
        **kwargs.pop("headers", {}),
    }
    return client.post(path, data=body, headers=headers, **kwargs)
