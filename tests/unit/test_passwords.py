import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudcodes.auth.passwords import common_passwords, hash_password, password_problem, verify_password


def test_the_common_password_list_ships_with_the_package():
    assert len(common_passwords()) >= 5_000
    assert "password" in common_passwords()


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short", "at least 12"),
        ("1qaz2wsx3edc", "most common passwords"),
        ("Password1234", "with a few characters added"),
        ("!!dragon2026!!", "with a few characters added"),
        ("123456789012", "only digits and symbols"),
        ("aaaaaaaaaaaa", "too few characters"),
        ("olivia.smith.2026", "too close to your e-mail"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(password, reason):
    problem = password_problem(password, "olivia.smith@acme.example")
    assert problem and reason in problem


@pytest.mark.parametrize("password", ["correct horse battery staple", "Kx9#mQ2$vL7!pR4z", "reseller margins rise"])
def test_strong_passwords_are_accepted(password):
    assert password_problem(password, "olivia@acme.example") is None


def test_hash_and_verify():
    stored = hash_password("correct horse battery staple")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert verify_password(stored, "correct horse battery staple")
    assert not verify_password(stored, "Correct horse battery staple")
    assert not verify_password(None, "anything at all")
    assert not verify_password("not-a-hash", "anything at all")


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=12, max_size=40))
def test_the_policy_never_crashes_and_answers_a_reason_or_none(password):
    problem = password_problem(password, "someone@example.com")
    assert problem is None or problem.endswith(".")
