"""The app under real gunicorn, with several sync workers, as production runs it (``wsgi:app``).

    with serve(database_url, workers=4, ratelimit_storage_url=redis_url) as base_url:
        browser = Browser(base_url)
        browser.get("/login").status  # 200

The app is built in each worker from the environment (``CLOUDCODES_*``) like in production, but
with ``CLOUDCODES_ENV=test`` and the test keys of ``tests.conftest.make_test_app``. The database must
already be migrated (the ``sqlite_database`` and ``postgres_database`` fixtures are).
``serve`` returns once every worker has loaded the app and ``/healthz`` answers 200.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, NamedTuple

from tests.support.postgres import free_port

ROOT = Path(__file__).resolve().parents[2]
# The worker's pid, the method, the path and the status of each answer, one answer a line.
ACCESS_LOG_FORMAT = "%(p)s %(m)s %(U)s %(s)s"
_ACCESS_LINE = re.compile(r"^<(\d+)> (\S+) (\S+) (\d{3})$")
_CONFIG = """\
import os


def post_worker_init(worker):
    if _base_post_worker_init is not None:
        _base_post_worker_init(worker)
    with open({ready!r}, "a") as ready:
        ready.write(f"{{worker.pid}}\\n")


def worker_exit(server, worker):
    if _base_worker_exit is not None:
        _base_worker_exit(server, worker)
    if os.getpid() == worker.pid and worker.booted and not worker.alive:  # told to stop, after its last answer
        os._exit(0)  # skips the interpreter's teardown, seconds per worker: nothing is left to write
"""
# With ``config_file``: that file's settings and hooks first; the two hooks above call its own.
_INCLUDE = """\
with open({path!r}) as _included:
    exec(compile(_included.read(), {path!r}, "exec"))
"""
_NO_BASE_HOOKS = """\
_base_post_worker_init = globals().get("post_worker_init")
_base_worker_exit = globals().get("worker_exit")
"""


class GunicornFailed(RuntimeError):
    pass


class Answered(NamedTuple):
    """One line of the access log: which worker answered what."""

    pid: int
    method: str
    path: str
    status: int


def environment(database_url: str, base_url: str, ratelimit_storage_url: str, settings: Mapping[str, Any]) -> dict:
    """The process environment without the caller's own ``CLOUDCODES_*``, then the app's settings."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("CLOUDCODES_")}
    values: dict[str, Any] = {
        "ENV": "test",
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key",
        "WEBHOOK_SECRET": "test-webhook-secret",
        "RATELIMIT_STORAGE_URL": ratelimit_storage_url,
        "SITE_URL": base_url,
        **settings,
    }
    # The app reads them with from_prefixed_env, which parses JSON: strings go as they are.
    for name, value in values.items():
        env[f"CLOUDCODES_{name}"] = value if isinstance(value, str) else json.dumps(value)
    return env


@contextmanager
def serve(
    database_url: str,
    *,
    workers: int = 4,
    ratelimit_storage_url: str = "memory://",
    settings: Mapping[str, Any] | None = None,
    access_log: Path | None = None,
    preload: bool = True,
    timeout: float = 60.0,
    config_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    worker_class: str = "sync",
    threads: int = 1,
) -> Iterator[str]:
    """Serve the app on a free loopback port with ``workers`` sync workers; yields the base URL.

    ``settings`` are more app settings without the prefix (``{"PROXY_HOPS": 1}``); ``access_log``
    is where to write one ``ACCESS_LOG_FORMAT`` line per answer (read it with ``access_entries``).
    ``preload`` builds the app once in the master before the workers fork (a start in about a
    second instead of an import per worker; the app opens no connection before the fork, so each
    worker still has its own connections and, with ``memory://``, its own rate-limit counts);
    ``preload=False`` builds it in each worker, as the README's production command does.
    ``config_file`` is a gunicorn configuration to load too (the repository's ``gunicorn.conf.py``,
    whose hooks keep /metrics counting every worker); ``env`` are more environment variables for
    the server, such as ``PROMETHEUS_MULTIPROC_DIR``. ``worker_class`` and ``threads`` are gunicorn's
    (``gthread`` with several threads per worker, for the benchmark).
    """
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    root = Path(tempfile.mkdtemp(prefix="cloudcodes-gunicorn-"))
    ready = root / "ready"
    error_log = root / "error.log"
    config = root / "gunicorn.conf.py"
    included = _INCLUDE.format(path=str(config_file)) if config_file is not None else ""
    config.write_text(included + _NO_BASE_HOOKS + _CONFIG.format(ready=str(ready)))
    command = [
        sys.executable, "-m", "gunicorn", "wsgi:app", "--config", str(config), "--chdir", str(ROOT),
        "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
        "--worker-class", worker_class, "--threads", str(threads),
        "--timeout", "30", "--graceful-timeout", "5", "--no-control-socket", *(["--preload"] if preload else []),
        "--error-logfile", str(error_log), "--capture-output",
        "--access-logfile", str(access_log or root / "access.log"), "--access-logformat", ACCESS_LOG_FORMAT,
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**environment(database_url, base_url, ratelimit_storage_url, settings or {}), **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so stop() reaches the workers too
    )
    try:
        _wait_until_ready(process, base_url, ready, workers, error_log, timeout)
        yield base_url
    finally:
        _stop(process)
        shutil.rmtree(root, ignore_errors=True)


def access_entries(access_log: Path) -> list[Answered]:
    entries = []
    for line in access_log.read_text().splitlines():
        match = _ACCESS_LINE.match(line.strip())
        if match:
            pid, method, path, status = match.groups()
            entries.append(Answered(int(pid), method, path, int(status)))
    return entries


def _log_tail(log: Path, lines: int = 60) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) or "(empty log)"
    except OSError:
        return "(no log)"


def _wait_until_ready(
    process: subprocess.Popen, base_url: str, ready: Path, workers: int, error_log: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise GunicornFailed(f"gunicorn exited with {process.returncode}:\n{_log_tail(error_log)}")
        booted = len(ready.read_text().split()) if ready.exists() else 0
        if booted >= workers and _healthy(base_url):
            return
        if time.monotonic() > deadline:
            raise GunicornFailed(
                f"gunicorn did not serve in {timeout:.0f} s ({booted} of {workers} workers up):\n{_log_tail(error_log)}"
            )
        time.sleep(0.1)


def _healthy(base_url: str) -> bool:
    try:
        return Browser(base_url).get("/healthz", timeout=5).status == 200
    except OSError:  # not listening yet, or the connection dropped
        return False


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # the master stops its workers gracefully
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# --- A small HTTP client ------------------------------------------------------------------------


class Answer(NamedTuple):
    status: int
    headers: Any  # an http.client.HTTPMessage: case-insensitive ``headers["Retry-After"]``
    text: str


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Browser:
    """Keeps cookies, never follows redirects, never raises on a 4xx/5xx, never uses a proxy."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self._opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirects()
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        data: Mapping[str, str] | None = None,
        json_body: Any = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30,
    ) -> Answer:
        """``data`` is sent as a form, ``json_body`` as JSON, ``body`` as it is (with your Content-Type)."""
        all_headers = dict(headers or {})
        if data is not None:
            body = urllib.parse.urlencode(data).encode()
            all_headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif json_body is not None:
            body = json.dumps(json_body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        request = urllib.request.Request(self.base_url + path, data=body, method=method, headers=all_headers)
        try:
            with self._opener.open(request, timeout=timeout) as response:
                return Answer(response.status, response.headers, response.read().decode(errors="replace"))
        except urllib.error.HTTPError as error:
            with error:
                return Answer(error.code, error.headers, error.read().decode(errors="replace"))

    def get(self, path: str, **kwargs: Any) -> Answer:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Answer:
        return self.request("POST", path, **kwargs)
