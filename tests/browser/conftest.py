"""Browser tests: the real site served on loopback, driven by Debian's Chromium through Playwright.

The server runs in a thread on a copy of the migrated template database with the demo data; one per
test module. Without Chromium (or Playwright) these tests skip, unless CLOUDCODES_REQUIRE names
``browser``, as CI's does.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from cloudcodes.extensions import db as _db
from tests.conftest import make_test_app, unavailable

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    candidates = [os.environ.get("CLOUDCODES_CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"]
    return next((c for c in candidates if c and Path(c).exists()), None)


@pytest.fixture(scope="session")
def browser():
    executable = chromium_path()
    if executable is None:
        unavailable("browser", "no Chromium found (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("browser", "Playwright for Python is not installed")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


class LiveSite:
    def __init__(self, app, url: str) -> None:
        self.app = app
        self.url = url


@pytest.fixture(scope="module")
def site(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    path = tmp_path_factory.mktemp("browser") / "site.db"
    shutil.copyfile(sqlite_template, path)
    app = make_test_app(f"sqlite:///{path}", RATELIMIT_ENABLED=False)
    result = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.config["SITE_URL"] = f"http://127.0.0.1:{server.server_port}"
    yield LiveSite(app, app.config["SITE_URL"])
    server.shutdown()
    thread.join()
    server.server_close()
    with app.app_context():
        _db.engine.dispose()


@pytest.fixture
def page(browser, site):
    """A fresh browser context (own cookies); script errors, CSP violations and failed loads fail the test."""
    # Reduced motion: no half-finished transitions when axe measures colours.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=site.url, reduced_motion="reduce")
    tab = context.new_page()
    problems: list[str] = []

    def on_console(message) -> None:
        # A page answered 4xx on purpose (an error page, a form sent back) is not a problem; its
        # subresources failing is, and those are caught below with their addresses.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(message.text)

    def on_response(response) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            problems.append(f"{response.status} for {response.url}")

    tab.on("console", on_console)
    tab.on("response", on_response)
    tab.on("pageerror", lambda error: problems.append(str(error)))
    yield tab
    context.close()
    assert problems == [], "the browser reported errors:\n" + "\n".join(problems)


def axe_violations(tab) -> list[dict]:
    """Serious and critical axe-core findings (WCAG 2 A/AA rules) on the page as it is now."""
    tab.evaluate(AXE.read_text(encoding="utf-8"))
    results = tab.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa']}})"
    )
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [(n["target"], n.get("failureSummary", "")) for n in v["nodes"]][:5],
        }
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]
