"""What a customer domain's DNS says: the registration's TXT proof and the evidence the portal reads itself.

A thin layer over dnspython with three outcomes kept apart, because the callers answer them
differently: records found; no such records (NXDOMAIN or an empty answer: a fact about the domain,
never an error); and no answer at all (a timeout, SERVFAIL, every nameserver refusing), which is
``DnsUnavailable``: the caller says "try again later" and must not conclude anything about the
domain from it. The resolver is passed in, so the lookups are tested against a real DNS server on
loopback without Flask; ``resolver_from_config`` builds it from the app's settings.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import dns.exception
import dns.name
import dns.resolver

from cloudcodes import clock

PROOF_PREFIX = "cloudcodes-partner="
DEFAULT_TIMEOUT_SECONDS = 3.0
RESOLVER_SETTING = "CLOUDCODES_DNS_RESOLVER"
TIMEOUT_SETTING = "CLOUDCODES_DNS_TIMEOUT_SECONDS"

# Google Workspace's mail servers: the single MX of current set-ups, and the older five
# (aspmx.l.google.com and alt1..alt4.aspmx.l.google.com).
WORKSPACE_MX_HOSTS = frozenset({"smtp.google.com", "aspmx.l.google.com"})
WORKSPACE_MX_SUFFIX = ".aspmx.l.google.com"

# After MX, the records that show a domain exists, most likely first: every delegated zone has NS and SOA.
_EXISTENCE_TYPES = ("NS", "SOA", "A", "AAAA")


class DnsUnavailable(Exception):
    """No answer could be had (timeout, SERVFAIL, no nameserver answered): nothing is known about the domain."""

    message = "We could not check the domain's DNS right now; try again later."

    def __init__(self, detail: str = "") -> None:
        super().__init__(self.message)
        self.detail = detail  # for the log: which lookup failed and how


@dataclass(frozen=True)
class DnsEvidence:
    """What the domain's DNS showed at ``checked_at``."""

    resolves: bool  # any SOA, NS, A, AAAA or MX record at the domain itself
    mx_hosts: tuple[str, ...]  # lower case, without the trailing dot, by preference
    google_workspace: bool  # an MX host is one of Google Workspace's
    checked_at: datetime


def is_workspace_mx(host: str) -> bool:
    host = host.strip().rstrip(".").lower()
    return host in WORKSPACE_MX_HOSTS or host.endswith(WORKSPACE_MX_SUFFIX)


def _name(domain: str) -> dns.name.Name:
    """The domain as an absolute name, so no search list is ever appended to it."""
    text = domain.strip().rstrip(".")
    if not text:
        raise ValueError(f"{domain!r} is not a domain name: it is empty")
    try:
        return dns.name.from_text(text + ".")
    except (dns.exception.DNSException, UnicodeError) as error:
        raise ValueError(f"{domain!r} is not a domain name: {error}") from None


def _query(
    resolver: dns.resolver.Resolver, name: dns.name.Name, rdtype: str
) -> tuple[dns.resolver.Answer | None, bool]:
    """The answer (None when there are no such records) and whether the name exists; DnsUnavailable
    when no answer could be had."""
    try:
        return resolver.resolve(name, rdtype, search=False), True
    except dns.resolver.NXDOMAIN:
        return None, False
    except dns.resolver.NoAnswer:
        return None, True
    except (dns.exception.DNSException, OSError) as error:
        # Timeout (LifetimeTimeout), NoNameservers (SERVFAIL or REFUSED from each), and the rest.
        raise DnsUnavailable(f"{rdtype} {name}: {type(error).__name__}: {error}") from error


def _resolves(resolver: dns.resolver.Resolver, name: dns.name.Name) -> bool:
    """Whether the name has a record of ``_EXISTENCE_TYPES``; after NXDOMAIN, which holds for every type, no more."""
    for rdtype in _EXISTENCE_TYPES:
        answer, exists = _query(resolver, name, rdtype)
        if answer is not None:
            return True
        if not exists:
            return False
    return False


def evidence(domain: str, resolver: dns.resolver.Resolver) -> DnsEvidence:
    """The domain's MX hosts, whether they are Google Workspace's, and whether the domain resolves at all."""
    name = _name(domain)
    answer, exists = _query(resolver, name, "MX")
    hosts: list[str] = []
    for mx in sorted(answer or (), key=lambda mx: (mx.preference, mx.exchange.to_text().lower())):
        # A "null MX" (RFC 7505, exchange ".") says the domain takes no mail: a record, not a host.
        if mx.exchange == dns.name.root:
            continue
        host = mx.exchange.to_text(omit_final_dot=True).lower()
        if host not in hosts:
            hosts.append(host)
    return DnsEvidence(
        resolves=answer is not None or (exists and _resolves(resolver, name)),
        mx_hosts=tuple(hosts),
        google_workspace=any(is_workspace_mx(host) for host in hosts),
        checked_at=clock.now(),
    )


def txt_values(domain: str, resolver: dns.resolver.Resolver) -> list[str]:
    """Each TXT record of the domain as one text (its strings joined); [] when there are none."""
    answer, _ = _query(resolver, _name(domain), "TXT")
    return [b"".join(record.strings).decode("utf-8", errors="replace") for record in answer or ()]


def proof_value(token: str) -> str:
    """The TXT record the customer's admin adds to prove the registration."""
    return PROOF_PREFIX + token


def has_proof(domain: str, token: str, resolver: dns.resolver.Resolver) -> bool:
    """Whether a TXT record of the domain is exactly ``cloudcodes-partner=<token>`` (surrounding spaces aside)."""
    if not token:
        return False
    expected = proof_value(token)
    return any(value.strip() == expected for value in txt_values(domain, resolver))


def _parse_address(address: str) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address: the IP and the port (53 by default)."""
    refusal = ValueError(
        f"{RESOLVER_SETTING} must be a nameserver's IP address with an optional port, such as 127.0.0.1, "
        f"127.0.0.1:5353 or [::1]:5353 (or empty for the system's resolver); it is {address!r}."
    )
    text = address.strip()
    port_text = ""
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise refusal
        port_text = rest[1:] if rest else ""
        if rest and not port_text:
            raise refusal
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        if not port_text:
            raise refusal
    else:
        host = text  # IPv4, or IPv6 without a port
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise refusal from None
    if text.startswith("[") and ip.version != 6:
        raise refusal
    port = 53
    if port_text:
        if not port_text.isascii() or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise refusal
        port = int(port_text)
    return str(ip), port


def _parse_timeout(timeout: Any) -> float:
    try:
        seconds = float(timeout)
    except (TypeError, ValueError):
        seconds = 0.0
    if isinstance(timeout, bool) or not 0 < seconds <= 60:
        raise ValueError(f"{TIMEOUT_SETTING} must be a number of seconds above 0 and at most 60; it is {timeout!r}.")
    return seconds


def make_resolver(address: str | None, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> dns.resolver.Resolver:
    """A resolver asking ``address`` (``127.0.0.1:5353``, ``127.0.0.1``; port 53 by default) or, when it is
    None or empty, the system's nameservers; each lookup gives up after ``timeout`` seconds.

    A malformed address or timeout is a ValueError naming the setting; a system without any nameserver
    configured is DnsUnavailable.
    """
    seconds = _parse_timeout(timeout)
    if address is None or not str(address).strip():
        try:
            resolver = dns.resolver.Resolver()
        except dns.resolver.NoResolverConfiguration as error:
            raise DnsUnavailable(f"the system has no resolver configured: {error}") from error
    else:
        host, port = _parse_address(str(address))
        resolver = dns.resolver.Resolver(configure=False)
        resolver.port = port  # before the nameservers, which take the resolver's port
        resolver.nameservers = [host]
    resolver.timeout = seconds
    resolver.lifetime = seconds
    return resolver


def resolver_from_config(config: Mapping[str, Any]) -> dns.resolver.Resolver:
    """The resolver the app's settings name (``DNS_RESOLVER``, ``DNS_TIMEOUT_SECONDS``)."""
    timeout = config.get("DNS_TIMEOUT_SECONDS")
    return make_resolver(config.get("DNS_RESOLVER"), DEFAULT_TIMEOUT_SECONDS if timeout is None else timeout)
