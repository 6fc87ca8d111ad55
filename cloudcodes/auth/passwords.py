"""Password hashing and the password policy. No Flask: tested on its own."""

from __future__ import annotations

import contextlib
import re
from functools import cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.low_level import Type

MIN_LENGTH = 12
_PADDING_START = re.compile(r"^[\d\W_]+")
_PADDING_END = re.compile(r"[\d\W_]+$")
MAX_LENGTH = 128  # argon2 takes any length; this only keeps requests small

# OWASP's recommended argon2id parameters: 19 MiB of memory, 2 passes, 1 lane.
hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32, salt_len=16, type=Type.ID)


def hash_password(password: str) -> str:
    return hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        # Spend the same time as a real check, so timing does not tell which accounts exist.
        _burn_time(password)
        return False
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    return hasher.hash("a password nobody has")


def _burn_time(password: str) -> None:
    with contextlib.suppress(VerificationError):
        hasher.verify(_dummy_hash(), password)


def needs_rehash(password_hash: str) -> bool:
    return hasher.check_needs_rehash(password_hash)


@cache
def common_passwords() -> frozenset[str]:
    text = resources.files("cloudcodes.auth").joinpath("data/common-passwords.txt").read_text("utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def password_problem(password: str, email: str = "") -> str | None:
    """Why this password cannot be used, or None when it can."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters: a few unrelated words make a strong, memorable password."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    lowered = password.lower()
    if lowered in common_passwords():
        return "This password is one of the most common passwords and is easy to guess. Choose another."
    # "password1234", "!!dragon2026": a common password padded with digits or symbols is guessed just as fast.
    core = _PADDING_END.sub("", _PADDING_START.sub("", lowered))
    if not core:
        return "A password of only digits and symbols is easy to guess. Add a few words."
    if len(core) >= 4 and core in common_passwords():
        return "This password is one of the most common passwords with a few characters added. Choose another."
    if len(set(password)) <= 3:
        return "This password repeats too few characters to be safe. Choose another."
    local_part = email.split("@", 1)[0].lower()
    if len(local_part) >= 4 and local_part in lowered and len(lowered) - len(local_part) < MIN_LENGTH // 2:
        return "This password is too close to your e-mail address. Choose another."
    return None
