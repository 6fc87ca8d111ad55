"""Customer domains: whatever a person types, the one registrable domain it names, or a refusal saying why.

A domain registration and a referral code are both tied to a customer's domain, and attribution
compares domains for equality, so every way of writing the same domain (a URL, an e-mail address,
``www.``, a subdomain, upper case, a trailing dot, Unicode or punycode) must come out as the same
string: the registrable domain (eTLD+1) by the Public Suffix List, lower case, in ASCII (IDNA 2008
with UTS 46 mapping). No Flask, no database.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

import idna
from publicsuffixlist import PublicSuffixList

# Private-section suffixes (blogspot.com, github.io, herokuapp.com, ...) are honoured, not only the
# ICANN ones.  Each name under such a suffix belongs to a different customer of that platform: with
# ICANN rules only, alice.github.io and bob.github.io would both become github.io, so one partner's
# registration of github.io would claim every customer hosted there.  Honouring them keeps
# alice.github.io its own domain and refuses a bare github.io as a suffix.
#
# accept_unknown=False: the PSL's implicit "*" rule would make any unknown last label a suffix, so
# intranet names (corp.local, foo.test, localhost) would pass as domains.  A name whose top-level
# domain is not in the list is not on the public internet and cannot be a customer's domain.
_PUBLIC_SUFFIXES = PublicSuffixList(accept_unknown=False, only_icann=False)

MAX_LABEL_OCTETS = 63  # RFC 1035, section 2.3.4, counted in the ASCII (A-label) form
MAX_NAME_OCTETS = 253  # 255 on the wire, less the length octet and the root label

# A scheme as RFC 3986 writes it, followed by "//": only then is the text parsed as a URL as it stands.
_URL_WITH_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_AUTHORITY_END = re.compile(r"[/?#]")
# What a label may hold among ASCII characters; anything else non-ASCII is IDNA's to judge.
_ASCII_LABEL_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


class DomainError(ValueError):
    """A text that is not a customer's domain; the message says why and what to enter instead.

    ``reason`` is one of ``empty``, ``ip_address``, ``no_public_suffix``, ``public_suffix_only``,
    ``bad_label`` and ``too_long``, for callers that react to the kind of refusal, not its wording.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def normalise_domain(text: str) -> str:
    """The registrable domain ``text`` names, lower case ASCII: ``https://Mail.Acme.co.uk/x`` is ``acme.co.uk``."""
    host = _host_from_input(text)
    ascii_name = _to_ascii(host)
    return _registrable_domain(ascii_name)


@lru_cache(maxsize=8192)  # pure, and a page shows each domain several times (IDNA decoding is slow)
def display_domain(ascii_domain: str) -> str:
    """The domain as people read it (``xn--bcher-kva.de`` is ``bücher.de``); the input itself if it won't decode."""
    try:
        return idna.decode(ascii_domain)
    except (idna.IDNAError, UnicodeError):
        return ascii_domain


def _host_from_input(text: str) -> str:
    """The host part of a URL, an e-mail address or a bare host with an optional port; IP addresses refused."""
    text = text.strip()
    if not text:
        raise DomainError("empty", "Enter the customer's domain, such as example.com.")
    # The authority of a URL ends at the first "/", "?" or "#"; without a scheme the text is read as
    # if it followed "//", which makes an e-mail address (and mailto:) an authority with userinfo.
    # Split by hand rather than with urlsplit, which drops tabs and newlines silently and raises on
    # bracketed hosts that are not IPv6, such as the e-mail form user@[192.0.2.1].
    rest = _URL_WITH_SCHEME.sub("", text, count=1).removeprefix("//")
    netloc = _AUTHORITY_END.split(rest, maxsplit=1)[0]
    host = netloc.rpartition("@")[2].strip()  # drop userinfo, or an e-mail address's local part
    if not host:
        raise DomainError("empty", f"{text} holds no domain: enter the customer's domain, such as example.com.")

    if host.startswith("["):  # an IP literal as URLs and e-mail write it, perhaps with a port after "]"
        literal = host[1:].partition("]")[0]
        if _is_ip_address(literal):
            raise _ip_refusal(literal)
        raise _bad_name(host, "brackets only enclose IP addresses")
    if _is_ip_address(host):  # a bare IPv6 address, whose colons are not a port separator
        raise _ip_refusal(host)
    name, colon, port = host.rpartition(":")
    if colon and (port.isdigit() or not port):
        host = name
    if _is_ip_address(host):
        raise _ip_refusal(host)
    return host


def _to_ascii(host: str) -> str:
    """``host`` in lower case ASCII by UTS 46 mapping and IDNA 2008, every label checked, without a trailing dot."""
    try:
        # UTS 46 folds case and width and maps the ideographic full stops to ".", so "ＡＣＭＥ。com"
        # reads as acme.com.  STD3 rules are left to the label checks below, whose messages name the
        # offending character.
        mapped = idna.uts46_remap(host, std3_rules=False, transitional=False)
    except idna.IDNAError:
        if len(host) > MAX_NAME_OCTETS:  # the library refuses names past its own limit with the same error
            raise _too_long(len(host)) from None
        raise _bad_name(host, "it holds characters that cannot appear in a domain name") from None
    mapped = mapped.removesuffix(".")  # one trailing dot is the DNS root: acme.co.uk. is acme.co.uk
    if not mapped:
        raise DomainError("empty", "Enter the customer's domain, such as example.com.")

    ascii_labels = [_ascii_label(label, host) for label in mapped.split(".")]
    ascii_name = ".".join(ascii_labels)
    if len(ascii_name) > MAX_NAME_OCTETS:
        raise _too_long(len(ascii_name))
    # No top-level domain is all digits, so such a name is an IPv4 address in some shorthand
    # (127.1, full-width digits) that ipaddress did not recognise.
    if ascii_labels[-1].isdigit():
        raise _ip_refusal(host)
    return ascii_name


def _ascii_label(label: str, host: str) -> str:
    """One label as its IDNA 2008 A-label, or a refusal that says what is wrong with it."""
    if not label:
        raise _bad_name(host, "it has an empty label (two dots in a row, or a dot at the start)")
    stray = next((char for char in label if char.isascii() and char not in _ASCII_LABEL_CHARACTERS), None)
    if stray is not None:
        raise _bad_name(host, f"{stray!r} cannot appear in a domain name (only letters, digits and hyphens can)")
    if label.startswith("-") or label.endswith("-"):
        raise _bad_name(host, f"the label {label!r} begins or ends with a hyphen")
    # Measured before IDNA so that an over-long label is reported as such, not as a generic failure.
    octets = len(label) if label.isascii() else len("xn--") + len(label.encode("punycode"))
    if octets > MAX_LABEL_OCTETS:
        raise DomainError(
            "too_long",
            f"The label {label[:20]}... is {octets} characters long in its ASCII form; a label (the part between "
            f"two dots) has at most {MAX_LABEL_OCTETS}. Check the domain.",
        )
    try:
        return idna.encode(label, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        # Characters IDNA 2008 does not allow (symbols, emoji), right-to-left labels that break the
        # Bidi rule, joiners out of context, hyphens in the third and fourth places (reserved for
        # xn--), or an xn-- label that is not punycode.
        raise _bad_name(host, f"the label {label!r} is not a valid internationalised domain label") from None


def _registrable_domain(ascii_name: str) -> str:
    """The eTLD+1 of a valid ASCII name, or a refusal when the name has no public suffix or is one."""
    if _PUBLIC_SUFFIXES.publicsuffix(ascii_name) is None:
        shown = display_domain(ascii_name)
        raise DomainError(
            "no_public_suffix",
            f"{shown} does not end in a known top-level domain (such as .com or .co.uk), so it is not a domain "
            "on the internet: enter the customer's public domain, such as example.com.",
        )
    registrable = _PUBLIC_SUFFIXES.privatesuffix(ascii_name)
    if registrable is None:
        shown = display_domain(ascii_name)
        raise DomainError(
            "public_suffix_only",
            f"{shown} is a public suffix, not a customer's domain: enter the customer's own domain, "
            f"such as example.{shown}.",
        )
    return registrable


def _is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _ip_refusal(address: str) -> DomainError:
    return DomainError(
        "ip_address",
        f"{address} is an IP address, not a domain: enter the customer's domain name, such as example.com.",
    )


def _too_long(length: int) -> DomainError:
    return DomainError(
        "too_long",
        f"This domain name is {length} characters long in its ASCII form; a domain name has at most "
        f"{MAX_NAME_OCTETS}. Enter the customer's domain, such as example.com.",
    )


def _bad_name(name: str, why: str) -> DomainError:
    return DomainError("bad_label", f"{name} is not a valid domain name: {why}. Check the spelling.")
