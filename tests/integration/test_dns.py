"""The DNS checks against a real DNS server: dnsmasq on loopback with each test's records, no mocks.

The proof (a TXT record ``cloudcodes-partner=<token>``), the MX evidence (Google Workspace or not,
whether the domain resolves at all), and the two failures kept apart: a domain without records is
an answer, a nameserver that does not answer is ``DnsUnavailable``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from flask import Flask

from cloudcodes import clock
from cloudcodes.config import load_config
from cloudcodes.referrals.dns import (
    DnsUnavailable,
    evidence,
    has_proof,
    make_resolver,
    resolver_from_config,
    txt_values,
)
from tests.conftest import make_test_app

TOKEN = "q7XrT2kM9vB4"


@pytest.fixture
def resolver(dns):
    return make_resolver(dns.address(), timeout=2)


# --- The TXT proof ----------------------------------------------------------------------------


def test_the_proof_is_found_among_the_domains_txt_records(dns, resolver):
    dns.set_records(
        [
            ("acme.com", "TXT", "v=spf1 include:_spf.google.com ~all"),
            ("acme.com", "TXT", f"cloudcodes-partner={TOKEN}"),
            ("acme.com", "TXT", "google-site-verification=abc123"),
        ]
    )
    assert sorted(txt_values("acme.com", resolver)) == sorted(
        ["v=spf1 include:_spf.google.com ~all", f"cloudcodes-partner={TOKEN}", "google-site-verification=abc123"]
    )
    assert has_proof("acme.com", TOKEN, resolver)
    assert has_proof("ACME.com.", TOKEN, resolver)  # the name as DNS compares it


def test_a_record_split_into_strings_is_read_whole_and_spaces_around_it_do_not_matter(dns, resolver):
    dns.set_records(
        [
            ("split.com", "TXT", ("cloudcodes-partner=", TOKEN)),
            ("spaced.com", "TXT", f"  cloudcodes-partner={TOKEN} "),
            ("quoted.com", "TXT", 'a "quoted", \\ text and café'),
        ]
    )
    assert txt_values("split.com", resolver) == [f"cloudcodes-partner={TOKEN}"]
    assert has_proof("split.com", TOKEN, resolver)
    assert has_proof("spaced.com", TOKEN, resolver)
    assert txt_values("quoted.com", resolver) == ['a "quoted", \\ text and café']


@pytest.mark.parametrize(
    "published",
    [
        "cloudcodes-partner=someone-elses-token",
        f"cloudcodes-partner={TOKEN.lower()}",  # the token is case-sensitive
        f"cloudcodes-partner={TOKEN}x",
        f"cloudcodes-partner= {TOKEN}",
        f"CLOUDCODES-PARTNER={TOKEN}",
        TOKEN,
        f"x cloudcodes-partner={TOKEN}",
    ],
)
def test_a_wrong_token_is_no_proof(dns, resolver, published):
    dns.set_records([("acme.com", "TXT", published)])
    assert txt_values("acme.com", resolver) == [published]
    assert not has_proof("acme.com", TOKEN, resolver)


def test_a_domain_without_the_record_has_no_proof(dns, resolver):
    dns.set_records([("acme.com", "TXT", "v=spf1 -all"), ("other.com", "TXT", f"cloudcodes-partner={TOKEN}")])
    assert not has_proof("acme.com", TOKEN, resolver)
    assert not has_proof("acme.com", "", resolver)


def test_a_domain_without_any_txt_record_has_none(dns, resolver):
    dns.set_records([("acme.com", "MX", "smtp.google.com")])
    assert txt_values("acme.com", resolver) == []  # the name exists: "no records" is an answer
    assert txt_values("nowhere.com", resolver) == []  # NXDOMAIN, likewise
    assert not has_proof("acme.com", TOKEN, resolver)
    assert not has_proof("nowhere.com", TOKEN, resolver)


# --- The evidence -----------------------------------------------------------------------------


def test_a_workspace_domain_with_googles_current_mx(dns, resolver):
    dns.set_records([("acme.com", "MX", "1 smtp.google.com")])
    before = clock.now()
    found = evidence("acme.com", resolver)
    assert found.resolves
    assert found.mx_hosts == ("smtp.google.com",)
    assert found.google_workspace
    assert before <= found.checked_at <= clock.now()
    assert found.checked_at.utcoffset() is not None and not found.checked_at.utcoffset()


def test_a_workspace_domain_with_googles_older_five_mx(dns, resolver):
    dns.set_records(
        [
            ("acme.com", "MX", "5 alt1.aspmx.l.google.com"),
            ("acme.com", "MX", "1 aspmx.l.google.com"),
            ("acme.com", "MX", "10 ALT3.ASPMX.L.GOOGLE.COM"),
        ]
    )
    found = evidence("acme.com", resolver)
    assert found.mx_hosts == ("aspmx.l.google.com", "alt1.aspmx.l.google.com", "alt3.aspmx.l.google.com")
    assert found.google_workspace and found.resolves


def test_one_workspace_mx_among_others_is_enough(dns, resolver):
    dns.set_records([("acme.com", "MX", "10 mx.example.net"), ("acme.com", "MX", "20 alt1.aspmx.l.google.com")])
    found = evidence("acme.com", resolver)
    assert found.mx_hosts == ("mx.example.net", "alt1.aspmx.l.google.com")
    assert found.google_workspace


def test_a_domain_whose_mail_goes_elsewhere_is_not_workspace(dns, resolver):
    dns.set_records([("acme.com", "MX", "10 mx.example.net")])
    found = evidence("acme.com", resolver)
    assert found.resolves
    assert found.mx_hosts == ("mx.example.net",)
    assert not found.google_workspace


@pytest.mark.parametrize(
    "host",
    ["smtp.google.com.example.net", "aspmx.l.google.com.evil.example", "evilaspmx.l.google.com", "google.com"],
)
def test_names_that_only_look_like_googles_are_not_workspace(dns, resolver, host):
    dns.set_records([("acme.com", "MX", host)])
    found = evidence("acme.com", resolver)
    assert found.mx_hosts == (host,)
    assert not found.google_workspace


def test_a_domain_with_only_an_address_resolves_but_is_not_workspace(dns, resolver):
    dns.set_records([("acme.com", "A", "127.0.0.2"), ("six.com", "AAAA", "2001:db8::2")])
    for domain in ("acme.com", "six.com"):
        found = evidence(domain, resolver)
        assert found.resolves
        assert found.mx_hosts == ()
        assert not found.google_workspace


def test_a_domain_that_does_not_exist_does_not_resolve_and_raises_nothing(dns, resolver):
    dns.set_records([("acme.com", "MX", "smtp.google.com")])
    for domain in ("nowhere.com", "www.acme.com"):
        found = evidence(domain, resolver)
        assert not found.resolves
        assert found.mx_hosts == ()
        assert not found.google_workspace


def test_a_domain_with_only_txt_records_does_not_resolve(dns, resolver):
    dns.set_records([("acme.com", "TXT", f"cloudcodes-partner={TOKEN}")])
    assert not evidence("acme.com", resolver).resolves
    assert has_proof("acme.com", TOKEN, resolver)


def test_records_do_not_outlive_their_test(dns, resolver):
    # The fixture emptied the server: what earlier tests published is gone.
    assert not evidence("acme.com", resolver).resolves
    assert txt_values("acme.com", resolver) == []


# --- A nameserver that does not answer --------------------------------------------------------


@pytest.mark.parametrize("check", ["evidence", "txt_values", "has_proof"])
def test_a_silent_nameserver_is_unavailable_within_the_timeout(silent_dns, check):
    resolver = make_resolver(silent_dns, timeout=0.5)
    lookups = {
        "evidence": lambda: evidence("acme.com", resolver),
        "txt_values": lambda: txt_values("acme.com", resolver),
        "has_proof": lambda: has_proof("acme.com", TOKEN, resolver),
    }
    started = time.monotonic()
    with pytest.raises(DnsUnavailable) as raised:
        lookups[check]()
    elapsed = time.monotonic() - started
    assert 0.4 < elapsed < 1.5
    assert str(raised.value) == "We could not check the domain's DNS right now; try again later."
    assert "acme.com" in raised.value.detail


def test_the_tests_default_resolver_is_on_loopback_and_says_nothing_but_that_names_exist(tmp_path: Path, default_dns):
    # No test reaches the internet by accident: an app built for tests asks the session's own dnsmasq,
    # where every name has an address and nothing more (or, without dnsmasq, a dead port).
    app = make_test_app(f"sqlite:///{tmp_path}/dns.db", INSTANCE_PATH=str(tmp_path / "instance"))
    resolver = resolver_from_config(app.config)
    assert [str(server) for server in resolver.nameservers] == ["127.0.0.1"]
    assert f"127.0.0.1:{resolver.port}" == default_dns
    assert resolver.resolve("any-name-at-all.com", "A")[0].to_text() == "127.0.0.2"
    started = time.monotonic()
    with pytest.raises(DnsUnavailable):
        evidence("google.com", resolver)  # its MX question is refused, at once
    assert time.monotonic() - started < 0.4


# --- The settings -----------------------------------------------------------------------------


def test_the_settings_come_from_the_environment(dns, monkeypatch, tmp_path: Path):
    for name in list(os.environ):
        if name.startswith("CLOUDCODES_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CLOUDCODES_ENV", "development")
    monkeypatch.setenv("CLOUDCODES_DATABASE_URL", f"sqlite:///{tmp_path}/dns.db")
    monkeypatch.setenv("CLOUDCODES_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("CLOUDCODES_DNS_RESOLVER", dns.address())
    monkeypatch.setenv("CLOUDCODES_DNS_TIMEOUT_SECONDS", "1.5")
    dns.set_records([("acme.com", "MX", "smtp.google.com")])
    app = Flask(__name__)
    load_config(app, None)
    resolver = resolver_from_config(app.config)
    assert resolver.lifetime == resolver.timeout == 1.5
    assert evidence("acme.com", resolver).google_workspace


def test_the_defaults_are_the_systems_resolver_and_three_seconds():
    # Only built, from /etc/resolv.conf: nothing is asked.
    try:
        resolvers = [resolver_from_config({"DNS_RESOLVER": "", "DNS_TIMEOUT_SECONDS": 3}), resolver_from_config({})]
    except DnsUnavailable:
        pytest.skip("this machine has no resolver configured")
    for resolver in resolvers:
        assert resolver.lifetime == resolver.timeout == 3


@pytest.mark.parametrize(
    ("address", "host", "port"),
    [
        ("127.0.0.1", "127.0.0.1", 53),
        ("127.0.0.1:5353", "127.0.0.1", 5353),
        (" 10.0.0.2:53 ", "10.0.0.2", 53),
        ("::1", "::1", 53),
        ("[::1]:5353", "::1", 5353),
        ("[::1]", "::1", 53),
    ],
)
def test_a_resolver_address_with_or_without_a_port(address, host, port):
    resolver = make_resolver(address, timeout=0.5)
    assert [str(server) for server in resolver.nameservers] == [host]
    assert resolver.port == port
    assert resolver.lifetime == resolver.timeout == 0.5


@pytest.mark.parametrize(
    "address",
    [
        "localhost",
        "dns.example.com:53",
        "127.0.0.1:",
        "127.0.0.1:0",
        "127.0.0.1:65536",
        "127.0.0.1:dns",
        "127.0.0.1:53:53",
        "127.0.0.256",
        "[127.0.0.1]:53",
        "[::1]:",
        "[::1]x",
        "udp://127.0.0.1",
        "127.0.0.1,10.0.0.2",
    ],
)
def test_a_malformed_resolver_address_is_refused_naming_the_setting(address):
    with pytest.raises(ValueError, match="CLOUDCODES_DNS_RESOLVER must be a nameserver's IP address") as raised:
        resolver_from_config({"DNS_RESOLVER": address, "DNS_TIMEOUT_SECONDS": 1})
    assert repr(address) in str(raised.value)


@pytest.mark.parametrize("timeout", [0, -1, "soon", None, True, 61])
def test_a_malformed_timeout_is_refused_naming_the_setting(timeout):
    with pytest.raises(ValueError, match="CLOUDCODES_DNS_TIMEOUT_SECONDS must be a number of seconds"):
        make_resolver("127.0.0.1", timeout)


def test_a_name_that_is_not_a_domain_is_refused_before_any_lookup(silent_dns):
    resolver = make_resolver(silent_dns, timeout=0.5)
    for name in ("a..b.com", "", " . ", "x" * 64 + ".com"):
        with pytest.raises(ValueError, match="is not a domain name"):
            evidence(name, resolver)
        with pytest.raises(ValueError, match="is not a domain name"):
            has_proof(name, TOKEN, resolver)
