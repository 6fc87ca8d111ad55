"""Signing and checking the billing API's requests, as SPEC.md fixes it. No Flask, no database.

The header is ``CloudCodes-Signature: t=<unix seconds>,v1=<hex>``: ``hex`` is HMAC-SHA256, keyed
by the webhook secret, of ``<t>.<raw body>`` (for a GET the body is empty, so the signed text is
``<t>.``).  To rotate the secret without downtime the server accepts several secrets at once and
a sender may put several ``v1=`` values in one header (one per secret it knows); the request
holds when any of them matches any secret.  Every candidate is compared with every secret in
constant time, without stopping at the first match.

The parser is forgiving about what does not matter (spaces around parts, their order, upper-case
hex, parts of other schemes such as a future ``v2=``) and strict about what does: exactly one
timestamp, made of digits.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence

HEADER = "CloudCodes-Signature"
SCHEME = "v1"
TOLERANCE = 300  # seconds either side of the server's clock
MAX_HEADER_LENGTH = 4096  # room for dozens of signatures; anything longer is not a signature header

_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # unix seconds, up to the year 33658
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
_FORMAT = f"{HEADER}: t=<unix seconds>,{SCHEME}=<hex HMAC-SHA256 of '<t>.<raw body>' keyed by the webhook secret>"


class SignatureError(ValueError):
    """The request is not signed as it should be; ``message`` says what is wrong and what to do.

    ``reason`` is one of ``missing``, ``malformed``, ``stale`` and ``mismatch``.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def digest(secret: str, timestamp: int | str, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``<timestamp>.<body>`` keyed by ``secret``."""
    signed = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The value of the ``CloudCodes-Signature`` header for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},{SCHEME}={digest(secret, timestamp, body)}"


def parse(header: str | None) -> tuple[str, list[str]]:
    """The timestamp as sent and the well-formed ``v1`` digests (lower case) of a header, or a ``SignatureError``."""
    if header is None or not header.strip():
        raise SignatureError("missing", f"The request is not signed. Send the header {_FORMAT}.")
    if len(header) > MAX_HEADER_LENGTH:
        raise SignatureError(
            "malformed", f"The {HEADER} header is longer than {MAX_HEADER_LENGTH} characters. Send {_FORMAT}."
        )
    timestamps: list[str] = []
    candidates: list[str] = []
    for part in header.split(","):
        key, equals, value = part.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not equals:
            if key:  # a stray word; empty parts (",," or a trailing comma) are harmless
                raise SignatureError(
                    "malformed", f"The {HEADER} header has a part without '=': {key[:20]!r}. Send {_FORMAT}."
                )
            continue
        if key == "t":
            timestamps.append(value)
        elif key == SCHEME:
            candidates.append(value.lower())
        # Other schemes (v0, a future v2...) are not ours to judge: ignored, as senders may add them.
    if len(timestamps) != 1:
        found = "no t= part" if not timestamps else f"{len(timestamps)} t= parts"
        raise SignatureError("malformed", f"The {HEADER} header has {found}; it needs exactly one. Send {_FORMAT}.")
    if not _TIMESTAMP.fullmatch(timestamps[0]):
        raise SignatureError(
            "malformed",
            f"The timestamp t={timestamps[0][:20]!r} is not a whole number of seconds since 1970 (unix time).",
        )
    digests = [candidate for candidate in candidates if _HEX_DIGEST.fullmatch(candidate)]
    if not digests:
        problem = f"no {SCHEME}= part" if not candidates else f"no {SCHEME}= value of 64 hexadecimal digits"
        raise SignatureError("malformed", f"The {HEADER} header has {problem}. Send {_FORMAT}.")
    return timestamps[0], digests


def verify(header: str | None, body: bytes, secrets: Sequence[str], now: int, tolerance: int = TOLERANCE) -> None:
    """Return if ``header`` signs ``body`` with one of ``secrets`` within ``tolerance`` of ``now``; raise otherwise.

    The signature is checked before the time, so "stale" is only ever said of a genuine signature:
    then the sender's clock, or a replay, is the problem, not its secret.
    """
    if not secrets:
        raise ValueError("verify() needs at least one secret; an API without one must refuse every request.")
    sent, candidates = parse(header)
    matched = False
    for secret in secrets:
        # Over the timestamp as sent, so that even "t=0123" for "t=123" breaks the signature.
        expected = digest(secret, sent, body)
        for candidate in candidates:
            # No early exit: the time taken does not depend on which secret or candidate matched.
            # As bytes: compare_digest refuses a str with non-ASCII characters, which a header may hold.
            matched |= hmac.compare_digest(expected.encode(), candidate.encode("utf-8", "surrogateescape"))
    if not matched:
        raise SignatureError(
            "mismatch",
            f"The signature does not match the request. Compute {SCHEME} as the hex HMAC-SHA256 of "
            f"'<t>.<raw body>' exactly as sent (for a GET the body is empty: '<t>.'), keyed by the current "
            "webhook secret, and sign each request as you send it.",
        )
    timestamp = int(sent)
    skew = now - timestamp
    if abs(skew) > tolerance:
        direction = "behind" if skew > 0 else "ahead of"
        raise SignatureError(
            "stale",
            f"The signature's timestamp t={timestamp} is {abs(skew)} seconds {direction} the server's clock; at "
            f"most {tolerance} are accepted. Sign each request as you send it, with a clock kept right (NTP).",
        )
