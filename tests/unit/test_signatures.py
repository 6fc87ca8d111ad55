"""The billing API's request signatures: HMAC-SHA256 over ``<t>.<body>``, several secrets, 300 s tolerance."""

import hashlib
import hmac

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from cloudcodes.api import signatures
from cloudcodes.api.signatures import MAX_HEADER_LENGTH, SignatureError, digest, parse, sign, verify

NOW = 1_767_225_600  # 2026-01-01T00:00:00Z
BODY = b'{"order_id": "A-1", "amount": "1234.50"}'
SECRET = "whsec-new"
OLD = "whsec-old"

secrets_ = st.text(min_size=1, max_size=40).filter(lambda s: s.strip() == s and "," not in s and s)
timestamps = st.integers(min_value=0, max_value=10**11)
bodies = st.binary(max_size=300)


def reason_of(header, body=BODY, secrets=(SECRET,), now=NOW, **kwargs) -> str:
    with pytest.raises(SignatureError) as caught:
        verify(header, body, list(secrets), now, **kwargs)
    assert caught.value.message == str(caught.value) and caught.value.message
    return caught.value.reason


# --- Signing ----------------------------------------------------------------------------------


def test_sign_is_hmac_sha256_of_timestamp_dot_body_in_the_spec_header_format():
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, NOW, BODY) == f"t={NOW},v1={expected}"
    assert digest(SECRET, NOW, BODY) == expected


def test_a_get_signs_the_timestamp_and_a_dot():
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode(), hashlib.sha256).hexdigest()
    assert sign(SECRET, NOW, b"") == f"t={NOW},v1={expected}"


# --- Verifying --------------------------------------------------------------------------------


def test_a_good_signature_verifies():
    verify(sign(SECRET, NOW, BODY), BODY, [SECRET], NOW)


@pytest.mark.parametrize("skew", [-300, -1, 0, 1, 300])
def test_a_timestamp_within_300_seconds_either_side_verifies(skew):
    verify(sign(SECRET, NOW + skew, BODY), BODY, [SECRET], NOW)


@pytest.mark.parametrize("skew", [-301, 301, -86_400, 86_400])
def test_a_timestamp_more_than_300_seconds_away_is_stale(skew):
    header = sign(SECRET, NOW + skew, BODY)
    with pytest.raises(SignatureError) as caught:
        verify(header, BODY, [SECRET], NOW)
    assert caught.value.reason == "stale"
    assert "301" in caught.value.message or "86400" in caught.value.message
    assert ("behind" if skew < 0 else "ahead of") in caught.value.message


def test_the_tolerance_can_be_set():
    header = sign(SECRET, NOW - 10, BODY)
    assert reason_of(header, tolerance=5) == "stale"
    verify(header, BODY, [SECRET], NOW, tolerance=10)


def test_a_wrong_secret_is_a_mismatch():
    assert reason_of(sign("someone-else", NOW, BODY)) == "mismatch"


def test_a_wrong_signature_is_judged_before_the_time():
    """A stale header that is also wrong says "mismatch": "stale" is only said of a genuine signature."""
    assert reason_of(sign("someone-else", NOW - 3600, BODY)) == "mismatch"


def test_verify_refuses_to_run_without_a_secret():
    with pytest.raises(ValueError, match="at least one secret"):
        verify(sign(SECRET, NOW, BODY), BODY, [], NOW)


# --- Rotation ---------------------------------------------------------------------------------


def test_rotation_a_request_signed_with_the_old_secret_holds_while_both_are_configured():
    verify(sign(OLD, NOW, BODY), BODY, [SECRET, OLD], NOW)
    verify(sign(SECRET, NOW, BODY), BODY, [SECRET, OLD], NOW)


def test_rotation_after_the_old_secret_is_dropped_its_signatures_fail():
    assert reason_of(sign(OLD, NOW, BODY), secrets=[SECRET]) == "mismatch"


def test_rotation_a_sender_may_send_one_v1_per_secret():
    header = f"t={NOW},v1={digest(SECRET, NOW, BODY)},v1={digest(OLD, NOW, BODY)}"
    verify(header, BODY, [SECRET], NOW)
    verify(header, BODY, [OLD], NOW)
    assert reason_of(header, secrets=["third"]) == "mismatch"


def test_every_candidate_is_compared_with_every_secret_in_constant_time(monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(signatures.hmac, "compare_digest", spy)
    header = f"t={NOW},v1={digest(SECRET, NOW, BODY)},v1={'0' * 64}"
    verify(header, BODY, [SECRET, OLD, "third"], NOW)  # the first comparison matches; all six still run
    assert len(calls) == 6


# --- Parsing ----------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "", "   ", "\t"])
def test_no_header_is_missing(header):
    assert reason_of(header) == "missing"


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        "Bearer abc",
        f"v1={'a' * 64}",  # no timestamp
        f"t={NOW}",  # no signature
        f"t={NOW},v1=",
        f"t={NOW},v1=xyz",
        f"t={NOW},v1={'a' * 63}",
        f"t={NOW},v1={'a' * 65}",
        f"t={NOW},v1={'g' * 64}",
        f"t=abc,v1={'a' * 64}",
        f"t=-5,v1={'a' * 64}",
        f"t=1.5,v1={'a' * 64}",
        f"t=,v1={'a' * 64}",
        f"t=١٢٣,v1={'a' * 64}",  # Arabic-Indic digits are digits to str.isdigit, not to us
        f"t={'9' * 13},v1={'a' * 64}",
        f"t={NOW},t={NOW},v1={'a' * 64}",
        f"t={NOW};v1={'a' * 64}",
        f"t={NOW} v1={'a' * 64}",
        f"t={NOW},v1={'a' * 64},stray",
        f"t={NOW},v1={'é' * 64}",
        "t=1," + "v1=" + "a" * MAX_HEADER_LENGTH,
    ],
)
def test_garbage_is_malformed(header):
    assert reason_of(header) == "malformed"


def test_the_parts_may_come_in_any_order_with_spaces_upper_case_hex_and_other_schemes():
    hexdigest = digest(SECRET, NOW, BODY)
    for header in [
        f"v1={hexdigest},t={NOW}",
        f" t = {NOW} , v1 = {hexdigest} ",
        f"t={NOW},v1={hexdigest.upper()}",
        f"T={NOW},V1={hexdigest}",
        f"t={NOW},v0=whatever,v1={hexdigest},v2=future",
        f"t={NOW},,v1={hexdigest},",
        f"t={NOW},v1=not-hex,v1={hexdigest}",
    ]:
        verify(header, BODY, [SECRET], NOW)


def test_parse_gives_the_timestamp_as_sent_and_the_digests():
    hexdigest = digest(SECRET, NOW, BODY)
    assert parse(f"t={NOW},v1={hexdigest.upper()},v1=short") == (str(NOW), [hexdigest])


# --- Properties -------------------------------------------------------------------------------


@given(secret=secrets_, timestamp=timestamps, body=bodies)
def test_property_a_valid_signature_verifies(secret, timestamp, body):
    verify(sign(secret, timestamp, body), body, [secret], timestamp)


@given(secret=secrets_, timestamp=timestamps, body=bodies, tampered=bodies)
def test_property_any_change_to_the_body_fails(secret, timestamp, body, tampered):
    assume(tampered != body)
    with pytest.raises(SignatureError) as caught:
        verify(sign(secret, timestamp, body), tampered, [secret], timestamp)
    assert caught.value.reason == "mismatch"


@given(secret=secrets_, timestamp=timestamps, body=bodies, other=timestamps)
def test_property_any_change_to_the_timestamp_fails(secret, timestamp, body, other):
    assume(other != timestamp)
    header = sign(secret, timestamp, body).replace(f"t={timestamp},", f"t={other},")
    with pytest.raises(SignatureError) as caught:
        verify(header, body, [secret], other)  # even at a server time that would accept the new t
    assert caught.value.reason == "mismatch"


@given(secret=secrets_, timestamp=st.integers(min_value=0, max_value=10**9), zeros=st.integers(1, 2), body=bodies)
def test_property_leading_zeros_on_the_timestamp_break_the_signature(secret, timestamp, zeros, body):
    header = sign(secret, timestamp, body).replace("t=", "t=" + "0" * zeros)
    with pytest.raises(SignatureError):
        verify(header, body, [secret], timestamp)


@given(new=secrets_, old=secrets_, timestamp=timestamps, body=bodies)
def test_property_rotation_signed_with_the_old_secret_verifies_against_new_and_old(new, old, timestamp, body):
    verify(sign(old, timestamp, body), body, [new, old], timestamp)
    assume(new != old)
    with pytest.raises(SignatureError):
        verify(sign(old, timestamp, body), body, [new], timestamp)


@given(header=st.one_of(st.none(), st.text(max_size=200)), body=bodies)
def test_property_any_header_is_accepted_or_refused_with_a_signature_error(header, body):
    try:
        verify(header, body, [SECRET], NOW)
    except SignatureError as error:
        assert error.reason in {"missing", "malformed", "stale", "mismatch"}
    else:
        pytest.fail("a random header verified")  # pragma: no cover - 2**-256


@given(
    parts=st.lists(
        st.sampled_from(["t", "v1", "v0", "x"]).flatmap(
            lambda key: st.tuples(st.just(key), st.text(alphabet="0123456789abcdef=, ", max_size=70))
        ),
        max_size=6,
    )
)
def test_property_headers_built_of_plausible_parts_never_crash(parts):
    header = ",".join(f"{key}={value}" for key, value in parts)
    with pytest.raises(SignatureError):
        verify(header, BODY, [SECRET], NOW)
