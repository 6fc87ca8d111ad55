"""Encryption at rest for the few values that must never sit in the database in the clear.

Bank account numbers, IBANs and tax IDs are stored as Fernet tokens (AES-128-CBC with an HMAC,
from ``cryptography``). The keys come from ``CLOUDCODES_PAYOUT_ENCRYPTION_KEY``: a comma-separated
list, so a key can be rotated. The first key encrypts; every key in the list decrypts. Outside
production, when the setting is unset, a key is derived from the secret key (production refuses to
start without the setting: ``cloudcodes.config``).

``EncryptedText`` is the column type: the model's attribute holds the plain text, the column
holds the token. ``rotate`` re-encrypts a token under the first key.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

KEY_SETTING = "PAYOUT_ENCRYPTION_KEY"


class BadKey(ValueError):
    """A key in the setting is not a Fernet key; the message says which one and how to make one."""


def derive_key(secret: str) -> str:
    """A Fernet key derived from ``secret``: for development and tests, where the setting may be unset."""
    digest = hashlib.sha256(b"cloudcodes payout details\0" + secret.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")


def parse_keys(value: Any) -> tuple[str, ...]:
    """The keys of the setting's comma-separated value, each checked; the first one encrypts."""
    keys = tuple(part.strip() for part in str(value or "").split(",") if part.strip())
    for number, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise BadKey(
                f"Key {number} of CLOUDCODES_{KEY_SETTING} is not a Fernet key (32 bytes in URL-safe base64, 44 "
                "characters). Set it to one made with python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'."
            ) from None
    return keys


@lru_cache(maxsize=8)
def cipher(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise RuntimeError(f"No {KEY_SETTING} is configured.")
    return MultiFernet([Fernet(key) for key in keys])


def encrypt(plain: str, keys: tuple[str, ...]) -> str:
    return cipher(keys).encrypt(plain.encode("utf-8")).decode("ascii")


def decrypt(token: str, keys: tuple[str, ...]) -> str:
    try:
        return cipher(keys).decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise RuntimeError(
            f"A stored value cannot be decrypted with any key of CLOUDCODES_{KEY_SETTING}: a key it was "
            "encrypted with has been removed from the list. Put the old key back (after the new one)."
        ) from None


def rotate(token: str, keys: tuple[str, ...]) -> str:
    """``token`` encrypted again under the first key (whichever key of the list it was encrypted with)."""
    return cipher(keys).rotate(token.encode("ascii")).decode("ascii")


def current_keys() -> tuple[str, ...]:
    """The app's keys (``load_config`` has checked them and filled them in outside production)."""
    from flask import current_app

    return tuple(current_app.config[f"{KEY_SETTING}S"])


class EncryptedText(TypeDecorator[str]):
    """Text stored as a Fernet token with the app's payout encryption keys; None stays NULL."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        if value is None:
            return None
        return encrypt(value, current_keys())

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        if value is None:
            return None
        return decrypt(value, current_keys())
