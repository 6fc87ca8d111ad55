"""A throw-away Redis server for the test session, from the machine's own ``redis-server``.

Nothing in it must survive: no snapshots, no append-only file, a temporary folder, loopback only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from tests.support.postgres import free_port


class RedisUnavailable(RuntimeError):
    pass


def find_server() -> str:
    """``redis-server``: $CLOUDCODES_REDIS_SERVER, on PATH, or where Debian puts it."""
    candidates = [os.environ.get("CLOUDCODES_REDIS_SERVER"), shutil.which("redis-server"), "/usr/bin/redis-server"]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RedisUnavailable("no redis-server found (on Debian: apt-get install redis-server)")


class ThrowawayRedis:
    """``redis-server`` on a free loopback port, in the foreground of a child process."""

    def __init__(self) -> None:
        self.binary = find_server()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="cloudcodes-redis-"))
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> str:
        log = self.root / "server.log"
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.root), "--logfile", str(log), "--daemonize", "no"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=1)
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self.process.poll() is not None:
                    raise RedisUnavailable(f"redis-server exited with {self.process.returncode}: {self._log_tail(log)}")
                try:
                    if client.ping():
                        return self.url
                except redis.RedisError:
                    pass
                if time.monotonic() > deadline:
                    raise RedisUnavailable(
                        f"redis-server did not answer PING in {timeout:.0f} s: {self._log_tail(log)}"
                    )
                time.sleep(0.05)
        finally:
            client.close()

    def flush(self) -> None:
        """Empty every database, so a test starts with no counters left by another."""
        with redis.Redis.from_url(self.url, socket_timeout=5) as client:
            client.flushall()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    @staticmethod
    def _log_tail(log: Path) -> str:
        try:
            return " | ".join(log.read_text(errors="replace").strip().splitlines()[-5:]) or "(no log)"
        except OSError:
            return "(no log)"
