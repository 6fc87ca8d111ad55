"""A throw-away DNS server for the test session, from the machine's own ``dnsmasq`` (Debian's ``dnsmasq-base``).

It answers for every name itself (``local=/#/``) and forwards nothing, so no test reaches the
internet: a name given records answers with them, a name under no record answers NXDOMAIN at once,
the way a domain that does not exist does. Loopback only, a free port, a temporary folder, no pid
file. dnsmasq reads its records only when it starts, so ``set_records`` rewrites the configuration
and restarts it. ``SilentDns`` is the other case: a nameserver that never answers.
"""

from __future__ import annotations

import ipaddress
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.resolver

# (domain, "TXT", "text" or ("several", "strings")), (domain, "MX", "host" or "10 host"),
# (domain, "A", "127.0.0.2"), (domain, "AAAA", "::2")
Record = tuple[str, str, str | tuple[str, ...]]

# Asked after each start: its TXT names the configuration's generation, so an answer from it is the new one's.
READY_NAME = "ready.throwaway-dns.test"
_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


class DnsmasqUnavailable(RuntimeError):
    pass


def find_dnsmasq() -> str:
    """``dnsmasq``: $CLOUDCODES_DNSMASQ, on PATH, or where Debian puts it."""
    candidates = [os.environ.get("CLOUDCODES_DNSMASQ"), shutil.which("dnsmasq"), "/usr/sbin/dnsmasq"]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise DnsmasqUnavailable("no dnsmasq found (on Debian: apt-get install dnsmasq-base)")


def free_dns_port() -> int:
    """A loopback port free for UDP and TCP alike: dnsmasq listens on both."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise DnsmasqUnavailable("no loopback port free for both UDP and TCP")


def _name(domain: str) -> str:
    name = domain.strip().rstrip(".").lower()
    if not _NAME.match(name):
        raise ValueError(f"not a name dnsmasq's configuration can hold: {domain!r}")
    return name


def _quoted(text: str) -> str:
    """A string in dnsmasq's configuration: in double quotes, with backslash and quote escaped."""
    if any(ord(character) < 32 or ord(character) == 127 for character in text):
        raise ValueError(f"a TXT string with a control character: {text!r}")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def configuration(records: Iterable[Record], generation: int, *, every_name_resolves: bool = False) -> str:
    """dnsmasq's configuration serving exactly ``records`` (and the readiness record).

    ``every_name_resolves``: any other name has an A record (127.0.0.2) and its other types are
    refused, the tests' default world, where a registration's domain exists but says nothing more.
    """
    default = "address=/#/127.0.0.2" if every_name_resolves else "local=/#/"
    lines = [default, f'txt-record={READY_NAME},"{generation}"']
    addresses: dict[str, list[str]] = {}
    preferences: dict[str, int] = {}
    for domain, kind, value in records:
        name = _name(domain)
        kind = kind.upper()
        if kind == "TXT":
            strings = (value,) if isinstance(value, str) else tuple(value)
            lines.append(f"txt-record={name}," + ",".join(_quoted(text) for text in strings))
        elif kind == "MX":
            assert isinstance(value, str), "an MX record is 'host' or 'preference host'"
            parts = value.split()
            if len(parts) == 2 and parts[0].isdigit():
                preference, host = int(parts[0]), parts[1]
            elif len(parts) == 1:
                preference = preferences.get(name, 0) + 10
                host = parts[0]
            else:
                raise ValueError(f"an MX record is 'host' or 'preference host': {value!r}")
            preferences[name] = max(preference, preferences.get(name, 0))
            lines.append(f"mx-host={name},{_name(host)},{preference}")
        elif kind in ("A", "AAAA"):
            assert isinstance(value, str)
            address = ipaddress.ip_address(value)
            if (address.version == 4) != (kind == "A"):
                raise ValueError(f"{value!r} is not an {kind} record's address")
            addresses.setdefault(name, []).append(str(address))
        else:
            raise ValueError(f"record type {kind!r}: this server holds TXT, MX, A and AAAA")
    # host-record: the name then exists for every type (an MX question is answered "no records", not NXDOMAIN).
    lines.extend(f"host-record={name},{','.join(values)}" for name, values in addresses.items())
    return "\n".join(lines) + "\n"


class ThrowawayDns:
    """``dnsmasq`` on a free loopback port, in the foreground of a child process, answering only for its records."""

    def __init__(self, *, every_name_resolves: bool = False) -> None:
        self.every_name_resolves = every_name_resolves
        self.binary = find_dnsmasq()
        self.port = free_dns_port()
        self.root = Path(tempfile.mkdtemp(prefix="cloudcodes-dns-"))
        self.conf = self.root / "dnsmasq.conf"
        self.log = self.root / "log"
        self.process: subprocess.Popen[bytes] | None = None
        self.generation = 0
        self.records: tuple[Record, ...] | None = None

    def address(self) -> str:
        """The value for CLOUDCODES_DNS_RESOLVER."""
        return f"127.0.0.1:{self.port}"

    def resolver(self, timeout: float = 2.0) -> dns.resolver.Resolver:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.port = self.port
        resolver.nameservers = ["127.0.0.1"]
        resolver.timeout = resolver.lifetime = timeout
        return resolver

    def start(self, timeout: float = 20.0) -> str:
        return self.set_records((), timeout=timeout)

    def set_records(self, records: Iterable[Record], timeout: float = 20.0) -> str:
        """Serve exactly ``records`` from now on (dnsmasq restarted on the same port); the server's address."""
        records = tuple(records)
        if records == self.records and self.process is not None and self.process.poll() is None:
            return self.address()
        self.generation += 1
        self.conf.write_text(
            configuration(records, self.generation, every_name_resolves=self.every_name_resolves), encoding="utf-8"
        )
        self._terminate()
        # As root, dnsmasq would switch to "nobody", which a container may lack: it keeps the user it runs as.
        user = pwd.getpwuid(os.geteuid()).pw_name
        self.process = subprocess.Popen(
            [self.binary, "--keep-in-foreground", f"--conf-file={self.conf}", f"--port={self.port}",
             "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts", "--no-poll",
             "--pid-file", f"--user={user}", f"--log-facility={self.log}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        self._wait_until_ready(timeout)
        self.records = records
        return self.address()

    def _wait_until_ready(self, timeout: float) -> None:
        assert self.process is not None
        question = dns.message.make_query(READY_NAME, "TXT")
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                stderr = self.process.stderr.read().decode(errors="replace").strip() if self.process.stderr else ""
                raise DnsmasqUnavailable(f"dnsmasq exited with {self.process.returncode}: {stderr or self._log_tail()}")
            try:
                # One question at a time, rather than the resolver, whose retries wait a tenth of a second.
                response = dns.query.udp(question, "127.0.0.1", port=self.port, timeout=0.02)
                answer = [record for rrset in response.answer for record in rrset]
                if any(b"".join(record.strings) == str(self.generation).encode() for record in answer):
                    return
            except (dns.exception.DNSException, OSError):
                pass
            if time.monotonic() > deadline:
                raise DnsmasqUnavailable(f"dnsmasq did not answer in {timeout:.0f} s: {self._log_tail()}")
            time.sleep(0.005)

    def _terminate(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            if self.process.stderr:
                self.process.stderr.close()
        self.process = None

    def stop(self) -> None:
        self._terminate()
        shutil.rmtree(self.root, ignore_errors=True)

    def _log_tail(self) -> str:
        try:
            return " | ".join(self.log.read_text(errors="replace").strip().splitlines()[-5:]) or "(no log)"
        except OSError:
            return "(no log)"


class SilentDns:
    """A UDP socket on loopback that reads every question and answers none: a nameserver that times out."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.1)
        self.port = self.socket.getsockname()[1]
        self.questions = 0
        self._stopping = threading.Event()
        # Reading the questions (rather than leaving them queued) keeps the socket from filling up.
        self._thread = threading.Thread(target=self._swallow, name="silent-dns", daemon=True)
        self._thread.start()

    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _swallow(self) -> None:
        while not self._stopping.is_set():
            try:
                self.socket.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self.questions += 1

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self.socket.close()
