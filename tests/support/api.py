"""Calling the billing API as the billing system does: every request signed (SPEC.md)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
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


DROP = object()  # a field left out of a purchase body


def purchase_body(*, customer_domain: str = "acme.com", **fields: Any) -> dict[str, Any]:
    """A valid purchase report with ``fields`` changed; a field given as ``DROP`` is left out."""
    base = {
        "order_id": "ORD-2026-0001",
        "customer_domain": customer_domain,
        "referral_code": None,
        "product": "CC-ACCESS",
        "seats": 10,
        "amount": "1234.50",
        "currency": "USD",
        "channel": "direct",
        "purchased_at": "2026-11-20T10:00:00Z",
    }
    base.update(fields)
    return {key: value for key, value in base.items() if value is not DROP}


def schema_refs(node: Any) -> Iterator[str]:
    """Every ``$ref`` in a JSON document (an OpenAPI document, a schema), depth first."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from schema_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from schema_refs(item)
