"""The app installed as an operator installs it, run from a folder that is not the checkout.

A wheel is built from a copy of the checkout (``pip wheel --no-deps``) and installed with
``--no-deps`` into a fresh virtualenv whose dependencies come from this project's venv through a
``.pth`` file, so it all runs offline in seconds. From another folder, that copy migrates a database
(the migrations ship in the package), seeds the demo, writes its e-mail and renders pages with their
static files (the templates and static files ship too), keeps everything it writes in
``CLOUDCODES_INSTANCE_PATH`` and writes nothing inside site-packages. An editable install of the copy
finds the same folders in its checkout instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = "cloudcodes:create_app"
NOT_SHIPPED = shutil.ignore_patterns(
    ".git", ".venv", "instance", "build", "dist", "*.egg-info", "__pycache__", "*.pyc", ".*cache", ".hypothesis"
)
# Run inside the installed copy: where it found its folders, and the pages it renders.
PAGES_SCRIPT = """
import json, re
import cloudcodes
from cloudcodes import create_app

app = create_app()
client = app.test_client()
home = client.get("/")
faq = client.get("/faq")
html = home.get_data(as_text=True)
stylesheet = re.search(r'href="(/static/css/[^"?]+)', html).group(1)
static = client.get(stylesheet)
print(json.dumps({
    "package": cloudcodes.__file__,
    "templates": app.template_folder,
    "static_folder": app.static_folder,
    "migrations": app.extensions["migrate"].directory,
    "instance": app.instance_path,
    "home": [home.status_code, html],
    "faq": [faq.status_code, faq.get_data(as_text=True)],
    "stylesheet": [stylesheet, static.status_code, static.get_data(as_text=True)],
}))
static.close()
"""


@dataclass(frozen=True)
class Venv:
    python: Path
    site_packages: Path

    def run(self, *arguments: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(self.python), *arguments], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, f"{arguments} failed:\n{done.stdout}\n{done.stderr}"
        return done

    def flask(self, *arguments: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return self.run("-m", "flask", "--app", APP, *arguments, cwd=cwd, env=env)


def pip(*arguments: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--quiet", *arguments], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, f"pip {' '.join(arguments)} failed:\n{done.stdout}\n{done.stderr}"


def fresh_venv(folder: Path) -> Venv:
    """A venv without pip that sees this project's dependencies (but not its editable install)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120)
    python = folder / "bin" / "python"
    site_packages = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # A path line in a .pth is added to sys.path; the .pth files found there are not run, so the
    # project's own editable install (a .pth finder in that folder) stays out of this venv.
    (site_packages / "project-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return Venv(python, site_packages)


def app_env(**settings: str) -> dict[str, str]:
    """The environment of an operator's shell: none of this session's CLOUDCODES_* or Python paths."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("CLOUDCODES_", "PYTHON", "FLASK_", "VIRTUAL_ENV"))
    }
    env.update({f"CLOUDCODES_{name}": value for name, value in settings.items()})
    return env


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in folder.rglob("*")
        if path.is_file()
    }


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the checkout as git would give it (no venv, no instance), so the build writes nothing here."""
    copy = tmp_path_factory.mktemp("packaging") / "checkout"
    shutil.copytree(ROOT, copy, ignore=NOT_SHIPPED, symlinks=True)
    return copy


@pytest.fixture(scope="module")
def wheel(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", "--wheel-dir", str(dist), str(source))
    (built,) = dist.glob("cloudcodes_partner_portal-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Venv]:
    venv = fresh_venv(tmp_path_factory.mktemp("installed") / "venv")
    pip("--python", str(venv.python), "install", "--no-deps", "--no-index", str(wheel))
    yield venv


def test_the_wheel_carries_the_templates_static_files_and_migrations_inside_the_package(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in ("templates", "static", "migrations"):
        shipped = {
            str(path.relative_to(ROOT))
            for path in (ROOT / folder).rglob("*")
            if path.is_file() and "__pycache__" not in path.parts
        }
        assert shipped, folder
        assert {f"cloudcodes/{name}" for name in shipped} <= names
    assert {
        "cloudcodes/migrations/alembic.ini",
        "cloudcodes/migrations/env.py",
        "cloudcodes/auth/data/common-passwords.txt",
    } <= names
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
    # Nothing at the top of site-packages but the package and its metadata.
    assert {name.split("/", 1)[0] for name in names} == {"cloudcodes", "cloudcodes_partner_portal-0.1.0.dist-info"}


def test_the_installed_app_migrates_mails_and_serves_pages_from_another_folder(installed, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    data = tmp_path / "data"
    env = app_env(ENV="development", INSTANCE_PATH=str(data), SITE_URL="http://127.0.0.1:5101")
    before = snapshot(installed.site_packages)

    installed.flask("db", "upgrade", cwd=elsewhere, env=env)
    assert (data / "cloudcodes.db").is_file()  # the SQLite default follows the instance folder
    seeded = installed.flask("demo", "seed", cwd=elsewhere, env=env)
    assert "Demo logins:" in seeded.stdout
    sent = installed.flask("outbox", "send", cwd=elsewhere, env=env)
    assert f"messages are written to {data / 'mail'}" in sent.stdout + sent.stderr
    mails = sorted((data / "mail").iterdir())
    assert mails
    assert all("http://127.0.0.1:5101/" in mail.read_text() for mail in mails if "apply/status" in mail.read_text())
    assert any("apply/status" in mail.read_text() for mail in mails)

    script = tmp_path / "pages.py"
    script.write_text(PAGES_SCRIPT)
    pages = json.loads(installed.run(str(script), cwd=elsewhere, env=env).stdout)
    package = installed.site_packages / "cloudcodes"
    assert pages["package"] == str(package / "__init__.py")  # the installed copy, not a checkout
    assert pages["templates"] == str(package / "templates")
    assert pages["static_folder"] == str(package / "static")
    assert pages["migrations"] == str(package / "migrations")
    assert pages["instance"] == str(data)
    status, home = pages["home"]
    assert status == 200 and "<title>Partner with CloudCodes · CloudCodes Partners</title>" in home
    status, faq = pages["faq"]
    assert status == 200 and "<title>Partner program FAQ · CloudCodes Partners</title>" in faq
    path, status, css = pages["stylesheet"]
    assert status == 200
    assert css == (ROOT / path.removeprefix("/")).read_text()

    assert snapshot(installed.site_packages) == before  # nothing written inside site-packages
    assert not list(elsewhere.iterdir())  # nor in the working folder: it all went to the instance folder


def test_the_installed_app_keeps_its_instance_folder_in_the_working_folder_by_default(installed, tmp_path):
    env = app_env(ENV="development")
    shown = installed.run(
        "-c", "from cloudcodes import create_app; print(create_app().instance_path)", cwd=tmp_path, env=env
    )
    assert shown.stdout.strip() == str(tmp_path / "instance")
    assert (tmp_path / "instance").is_dir()
    assert not (installed.site_packages / "instance").exists()
    assert not (installed.site_packages / "cloudcodes" / "instance").exists()


def test_an_editable_install_finds_the_folders_in_its_checkout(source, tmp_path):
    venv = fresh_venv(tmp_path / "venv")
    pip("--python", str(venv.python), "install", "--no-deps", "--no-build-isolation", "--no-index", "-e", str(source))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = app_env(ENV="development", DATABASE_URL=f"sqlite:///{tmp_path}/editable.db")
    venv.flask("db", "upgrade", cwd=elsewhere, env=env)
    script = tmp_path / "pages.py"
    script.write_text(PAGES_SCRIPT)
    pages = json.loads(venv.run(str(script), cwd=elsewhere, env=env).stdout)
    assert pages["package"] == str(source / "cloudcodes" / "__init__.py")
    assert pages["templates"] == str(source / "templates")
    assert pages["static_folder"] == str(source / "static")
    assert pages["migrations"] == str(source / "migrations")
    assert pages["instance"] == str(source / "instance")
    assert pages["home"][0] == pages["faq"][0] == pages["stylesheet"][1] == 200
    assert not (venv.site_packages / "cloudcodes").exists()  # nothing copied: the checkout serves it
    assert not list(elsewhere.iterdir())


def test_wsgi_py_still_serves_the_checkout(tmp_path):
    env = app_env(ENV="development", DATABASE_URL=f"sqlite:///{tmp_path}/wsgi.db")
    shown = subprocess.run(
        [sys.executable, "-c", "import wsgi; print(wsgi.app.name, wsgi.app.template_folder)"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert shown.stdout.split() == ["cloudcodes", str(ROOT / "templates")]
