"""``make run PORT=5101`` gives every process it starts the site address on that port, so the links
in e-mails (built by the web server, the demo seed and whatever delivers the outbox) point at the
server that is running. Read from ``make -n`` (the commands, not run)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def planned_commands(*arguments: str) -> list[str]:
    """The app's commands ``make -n`` prints (the venv's programs other than pip), one a line."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"HOST", "PORT", "RUN_SITE_URL", "MAKEFLAGS", "MFLAGS", "MAKELEVEL"}
        and not name.startswith("CLOUDCODES_")
    }
    printed = subprocess.run(
        ["make", "--no-print-directory", "-n", *arguments],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return [
        line
        for line in printed.splitlines()
        if ".venv/bin/" in line and ".venv/bin/pip " not in line and not line.lstrip().startswith(("echo", "touch"))
    ]


@pytest.mark.parametrize(
    ("arguments", "site_url"),
    [
        ((), "http://127.0.0.1:5000"),
        (("PORT=5101",), "http://127.0.0.1:5101"),
        (("HOST=0.0.0.0", "PORT=5101"), "http://127.0.0.1:5101"),  # served on every interface, linked on loopback
        (("HOST=localhost", "PORT=8080"), "http://localhost:8080"),
        (("RUN_SITE_URL=https://tunnel.example", "PORT=5101"), "https://tunnel.example"),
    ],
)
@pytest.mark.parametrize("target", ["run", "seed"])
def test_every_process_make_starts_builds_links_on_the_port_it_serves(target, arguments, site_url):
    commands = planned_commands(target, *arguments)
    assert any(" demo seed" in command for command in commands)
    for command in commands:
        assert f"CLOUDCODES_SITE_URL={site_url} " in command, command
        assert "CLOUDCODES_ENV=development" in command, command


def test_make_run_serves_on_the_port_it_is_given():
    (server,) = [command for command in planned_commands("run", "PORT=5101") if " run " in command]
    assert server.endswith("--port 5101")
