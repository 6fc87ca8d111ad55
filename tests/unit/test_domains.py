import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from publicsuffixlist import PublicSuffixList

from cloudcodes.referrals.domains import DomainError, display_domain, normalise_domain

# An independent reading of the list, to check results against; strict about unknown TLDs like the module.
PSL = PublicSuffixList(accept_unknown=False)

ACCEPTED = [
    # The spec's own examples.
    ("https://Mail.Acme.co.uk/x", "acme.co.uk"),
    ("acme.co.uk.", "acme.co.uk"),
    ("bücher.de", "xn--bcher-kva.de"),
    # URLs: scheme, path, query, fragment, port, userinfo.
    ("https://www.bücher.de/angebote?seite=2", "xn--bcher-kva.de"),
    ("http://acme.com:8080/path?q=1#top", "acme.com"),
    ("https://user:secret@portal.acme.com/login", "acme.com"),
    ("https://user:p@ss@acme.com", "acme.com"),
    ("ftp://files.acme.de/pub", "acme.de"),
    ("//cdn.acme.com/app.js", "acme.com"),
    ("acme.com/pricing", "acme.com"),
    ("acme.com:8443", "acme.com"),
    ("acme.com/?next=https://elsewhere.example", "acme.com"),
    # E-mail addresses.
    ("someone@acme.com", "acme.com"),
    ("First.Last+tag@Sales.Acme.COM", "acme.com"),
    ("mailto:someone@acme.com?subject=Hello", "acme.com"),
    # www., subdomains, case, spaces, trailing dot.
    ("www.acme.com", "acme.com"),
    ("a.b.c.d.acme.org", "acme.org"),
    ("  ACME.COM  ", "acme.com"),
    ("mail.google.com.", "google.com"),
    ("3m.com", "3m.com"),
    ("my-company.de", "my-company.de"),
    ("acme.io", "acme.io"),
    # Multi-level public suffixes.
    ("news.bbc.co.uk", "bbc.co.uk"),
    ("shop.acme.com.au", "acme.com.au"),
    ("www.example.co.jp", "example.co.jp"),
    ("www.hmrc.gov.uk", "hmrc.gov.uk"),
    ("https://www.gov.uk/guidance", "www.gov.uk"),  # gov.uk itself is a suffix
    ("www.city.kawasaki.jp", "city.kawasaki.jp"),  # an exception to the *.kawasaki.jp wildcard
    ("www.ck", "www.ck"),  # an exception to the *.ck wildcard
    # Private-section suffixes are honoured: each name under them is a different customer.
    ("alice.github.io", "alice.github.io"),
    ("www.alice.blogspot.com", "alice.blogspot.com"),
    # Internationalised names, in Unicode and in punycode.
    ("xn--bcher-kva.de", "xn--bcher-kva.de"),
    ("XN--BCHER-KVA.DE", "xn--bcher-kva.de"),
    ("München.DE", "xn--mnchen-3ya.de"),
    ("xn--mnchen-3ya.de", "xn--mnchen-3ya.de"),
    ("straße.de", "xn--strae-oqa.de"),  # IDNA 2008 keeps ß (IDNA 2003 made it ss)
    ("café.fr", "xn--caf-dma.fr"),
    ("日本語.jp", "xn--wgv71a119e.jp"),
    ("www.ドメイン名例.jp", "xn--eckwd4c7cu47r2wf.jp"),
    ("παράδειγμα.ελ", "xn--hxajbheg2az3al.xn--qxam"),
    ("пример.рф", "xn--e1afmkfd.xn--p1ai"),
    ("한국어.kr", "xn--3e0bk47br7k.kr"),
    ("مثال.مصر", "xn--mgbh0fb.xn--wgbh1c"),
    # UTS 46 mapping: full-width letters and the ideographic full stop.
    ("ＡＣＭＥ．ＣＯＭ", "acme.com"),
    ("acme。com", "acme.com"),
]

REFUSED = [
    ("", "empty"),
    ("   ", "empty"),
    (".", "empty"),
    ("https://", "empty"),
    ("someone@", "empty"),
    ("192.168.0.1", "ip_address"),
    ("http://10.0.0.1:8080/admin", "ip_address"),
    ("127.1", "ip_address"),
    ("::1", "ip_address"),
    ("2001:db8::1", "ip_address"),
    ("[2001:db8::1]", "ip_address"),
    ("https://[2001:db8::1]:8443/", "ip_address"),
    ("user@[192.0.2.1]", "ip_address"),
    ("localhost", "no_public_suffix"),
    ("http://localhost:5000/", "no_public_suffix"),
    ("intranet", "no_public_suffix"),
    ("printer.corp.local", "no_public_suffix"),
    ("foo.invalid", "no_public_suffix"),
    ("test.example", "no_public_suffix"),
    ("server.lan", "no_public_suffix"),
    ("com", "public_suffix_only"),
    ("co.uk", "public_suffix_only"),
    ("gov.uk", "public_suffix_only"),
    ("https://github.io/", "public_suffix_only"),
    ("foo.ck", "public_suffix_only"),  # *.ck: every name directly under ck is a suffix
    ("a..com", "bad_label"),
    (".acme.com", "bad_label"),
    ("acme.com..", "bad_label"),
    ("-acme.com", "bad_label"),
    ("acme-.com", "bad_label"),
    ("acme_corp.com", "bad_label"),
    ("acme corp.com", "bad_label"),
    ("acme!.com", "bad_label"),
    ("acme.com:http", "bad_label"),
    ("[intranet]", "bad_label"),
    ("ab--cd.com", "bad_label"),  # hyphens in places 3 and 4 are reserved for xn--
    ("xn--zz.com", "bad_label"),  # not punycode
    ("😀.com", "bad_label"),
    ("a" * 64 + ".com", "too_long"),
    ("ü" * 60 + ".de", "too_long"),  # 60 characters, but 66 as an A-label
    (".".join(["a" * 63] * 4) + ".com", "too_long"),  # 259 octets
]


@pytest.mark.parametrize(("text", "expected"), ACCEPTED)
def test_accepted_inputs_give_the_registrable_domain(text, expected):
    assert normalise_domain(text) == expected


@pytest.mark.parametrize(("text", "reason"), REFUSED)
def test_refusals_give_their_reason(text, reason):
    with pytest.raises(DomainError) as refusal:
        normalise_domain(text)
    assert refusal.value.reason == reason
    assert isinstance(refusal.value, ValueError)


def test_the_table_is_large_enough_to_mean_something():
    assert len(ACCEPTED) + len(REFUSED) >= 40


def test_refusal_messages_say_why_and_what_to_do():
    messages = {}
    for text in ["co.uk", "192.168.0.1", "localhost", "acme_corp.com", "a" * 64 + ".com", ""]:
        with pytest.raises(DomainError) as refusal:
            normalise_domain(text)
        messages[text] = str(refusal.value)
    assert messages["co.uk"] == (
        "co.uk is a public suffix, not a customer's domain: enter the customer's own domain, such as example.co.uk."
    )
    assert "192.168.0.1 is an IP address" in messages["192.168.0.1"]
    assert "localhost" in messages["localhost"] and "top-level domain" in messages["localhost"]
    assert "'_'" in messages["acme_corp.com"]
    assert "at most 63" in messages["a" * 64 + ".com"]
    assert "example.com" in messages[""]


def test_a_name_of_exactly_the_maximum_length_is_accepted():
    name = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 57, "com"])
    assert len(name) == 253
    assert normalise_domain(name) == "d" * 57 + ".com"


def test_display_domain_shows_unicode_and_falls_back_to_its_input():
    assert display_domain("xn--bcher-kva.de") == "bücher.de"
    assert display_domain("xn--e1afmkfd.xn--p1ai") == "пример.рф"
    assert display_domain("acme.co.uk") == "acme.co.uk"
    assert display_domain("xn--zz.com") == "xn--zz.com"  # not punycode: shown as stored
    assert display_domain("") == ""


# Plausible hostnames: LDH labels that neither begin nor end with a hyphen and have no "--" in
# places 3 and 4 (reserved for xn--, refused by IDNA 2008 and by registries).
LABELS = st.from_regex(r"\A[a-z0-9](?:[a-z0-9-]{0,14}[a-z0-9])?\Z").filter(lambda label: label[2:4] != "--")
SUFFIXES = st.sampled_from(["com", "co.uk", "de", "com.au", "org", "io", "jp", "gov.uk", "co.jp", "net", "fr"])


@st.composite
def hostnames(draw):
    subdomains = draw(st.lists(LABELS, max_size=3))
    return ".".join([*subdomains, draw(LABELS), draw(SUFFIXES)])


@given(hostnames())
def test_a_plausible_hostname_gives_a_registrable_domain_it_ends_with(host):
    try:
        domain = normalise_domain(host)
    except DomainError as refusal:
        # A drawn label can happen to complete a suffix of its own (ac.jp, ltd.uk): then, and only
        # then, the whole host is a public suffix.
        assert refusal.reason == "public_suffix_only"
        assert PSL.is_public(host)
        return
    assert host == domain or host.endswith("." + domain)
    assert PSL.publicsuffix(domain) is not None
    assert not PSL.is_public(domain)
    assert PSL.privatesuffix(domain) == domain


@given(hostnames())
def test_normalising_twice_changes_nothing(host):
    try:
        domain = normalise_domain(host)
    except DomainError:
        assume(False)
    assert normalise_domain(domain) == domain


@given(
    hostnames(),
    st.sampled_from(["{}", "www.{}", "https://{}/", "http://www.{}:8080/a?b#c", "someone@{}", " {}. "]),
    st.booleans(),
)
def test_every_way_of_writing_a_host_gives_the_same_domain(host, template, upper):
    try:
        domain = normalise_domain(host)
    except DomainError:
        assume(False)
    written = template.format(host.upper() if upper else host)
    assert normalise_domain(written) == domain


UNICODE_LABELS = st.text(alphabet=st.characters(categories=["Ll", "Lo"], max_codepoint=0xFFFF), min_size=1, max_size=12)


@given(UNICODE_LABELS, st.sampled_from(["de", "com", "jp", "рф", "org"]))
def test_display_and_normalise_round_trip_for_internationalised_names(label, suffix):
    try:
        domain = normalise_domain(f"{label}.{suffix}")
    except DomainError as refusal:
        # IDNA 2008 refuses some letters (and some mixes of scripts and directions) outright.
        assert refusal.reason in {"bad_label", "too_long", "public_suffix_only"}
        assume(False)
    assert domain.isascii()
    shown = display_domain(domain)
    assert normalise_domain(shown) == domain
    assert display_domain(normalise_domain(shown)) == shown


@given(st.text(alphabet=st.sampled_from("aAü日.-_:/@[]1 xn-"), max_size=30) | st.text(max_size=30))
def test_any_text_is_either_refused_with_a_reason_or_a_stable_domain(text):
    try:
        domain = normalise_domain(text)
    except DomainError as refusal:
        assert refusal.reason in {
            "empty",
            "ip_address",
            "no_public_suffix",
            "public_suffix_only",
            "bad_label",
            "too_long",
        }
        assert str(refusal)
        return
    assert normalise_domain(domain) == domain
    assert normalise_domain(display_domain(domain)) == domain


@pytest.mark.parametrize("length", [254, 1_025, 2_048, 5_000])
def test_a_name_too_long_is_refused_as_too_long_whatever_its_length(length):
    """The review found 1,025 to 2,048 characters refused as "characters that cannot appear in a domain name"."""
    name = ("a" * 60 + ".") * (length // 61 + 1) + "com"
    with pytest.raises(DomainError) as refused:
        normalise_domain(name[-length:].lstrip("."))
    assert refused.value.reason == "too_long", str(refused.value)
    assert "at most 253" in str(refused.value)
