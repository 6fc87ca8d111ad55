"""The locks (requirements/*.txt) agree with setup.cfg and pyproject.toml, and the check that says so
(``make lock-check``, requirements/check.py) fails on each way they can drift apart."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCKS = ("base.txt", "test.txt", "build.txt")


def load_check():
    spec = importlib.util.spec_from_file_location("requirements_check", ROOT / "requirements" / "check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


check = load_check()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of what the check reads, to change."""
    (tmp_path / "requirements").mkdir()
    for name in ("setup.cfg", "pyproject.toml"):
        shutil.copyfile(ROOT / name, tmp_path / name)
    for name in LOCKS:
        shutil.copyfile(ROOT / "requirements" / name, tmp_path / "requirements" / name)
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


def without_entry(path: Path, name: str) -> None:
    """Drop a pin with its hashes and annotations (from its line to the next pin)."""
    text = path.read_text()
    entry = re.compile(rf"^{re.escape(name)}==.*?(?=^\S)", re.MULTILINE | re.DOTALL)
    assert entry.search(text), name
    path.write_text(entry.sub("", text, count=1))


def pinned(name: str, lock: str = "base.txt") -> str:
    match = re.search(rf"^{re.escape(name)}==(\S+)", (ROOT / "requirements" / lock).read_text(), re.MULTILINE)
    assert match, f"{name} is not in {lock}"
    return match.group(1)


def test_the_locks_agree_with_setup_cfg_and_pyproject_toml():
    assert check.problems(ROOT) == []


def test_every_pin_is_exact_and_hashed_and_the_test_lock_repeats_the_base_versions():
    pins = {name: check.read_lock(ROOT / "requirements" / name)[0] for name in LOCKS}
    for name, found in pins.items():
        assert found, name
        for pin in found:
            assert pin.version and pin.hashes and all(h.startswith("sha256:") for h in pin.hashes), (name, pin)
    test_versions = {pin.name: pin.version for pin in pins["test.txt"]}
    assert {pin.name: pin.version for pin in pins["base.txt"]}.items() <= test_versions.items()
    assert {"flask", "celery", "gunicorn"} <= test_versions.keys()
    assert {"pytest", "ruff", "playwright"} <= test_versions.keys() - {pin.name for pin in pins["base.txt"]}
    assert [pin.name for pin in pins["build.txt"]] == ["setuptools"]


def test_a_requirement_added_to_setup_cfg_but_not_locked_fails(project):
    edit(project / "setup.cfg", "    pyotp>=2.9\n", "    pyotp>=2.9\n    humanize>=4.9\n")
    assert check.problems(project) == [
        "setup.cfg (install_requires) asks for humanize>=4.9, which requirements/base.txt does not pin: "
        "run `make lock` and commit requirements/.",
        "setup.cfg (install_requires and the test extra) asks for humanize>=4.9, which requirements/test.txt "
        "does not pin: run `make lock` and commit requirements/.",
    ]


def test_a_bound_the_pinned_version_does_not_meet_fails(project):
    edit(project / "setup.cfg", "Flask>=3.0,<4", "Flask>=99")
    found = check.problems(project)
    assert len(found) == 2
    assert found[0].startswith(
        f"requirements/base.txt pins flask=={pinned('flask')}, which setup.cfg (install_requires)'s Flask>=99 "
        "does not allow"
    )


def test_a_requirement_removed_from_setup_cfg_but_still_locked_fails(project):
    edit(project / "setup.cfg", "    qrcode>=7.4\n", "")
    found = check.problems(project)
    assert found[0] == (
        "requirements/base.txt pins qrcode for setup.cfg (install_requires), which no longer asks for it: "
        "run `make lock` and commit requirements/."
    )
    assert len(found) == 2  # test.txt too


def test_a_test_extra_dropped_from_setup_cfg_but_still_locked_fails(project):
    edit(project / "setup.cfg", "    time-machine>=2.14\n", "")
    assert check.problems(project) == [
        "requirements/test.txt pins time-machine for setup.cfg (install_requires and the test extra), which no "
        "longer asks for it: run `make lock` and commit requirements/."
    ]


def test_a_pin_removed_by_hand_fails_with_what_it_leaves_behind(project):
    without_entry(project / "requirements" / "base.txt", "flask-migrate")
    found = check.problems(project)
    assert (
        "setup.cfg (install_requires) asks for Flask-Migrate>=4.0, which requirements/base.txt does not pin"
        in (found[0])
    )
    assert any(
        problem.startswith("requirements/base.txt pins alembic for flask-migrate, which it does not pin itself")
        for problem in found
    )


def test_a_test_lock_that_installs_another_version_than_the_base_lock_fails(project):
    version = pinned("flask", "test.txt")
    edit(project / "requirements" / "test.txt", f"flask=={version} ", "flask==3.0.0 ")
    assert check.problems(project) == [
        f"requirements/base.txt pins flask=={version} but requirements/test.txt flask==3.0.0: the two would "
        "install different programs; run `make lock` and commit requirements/."
    ]


def test_a_pin_without_hashes_fails(project):
    lock = project / "requirements" / "build.txt"
    lock.write_text("\n".join(line for line in lock.read_text().splitlines() if "--hash" not in line) + "\n")
    (problem,) = check.problems(project)
    assert problem.startswith("requirements/build.txt: setuptools==")
    assert "has no --hash, and pip's --require-hashes refuses it" in problem


def test_a_build_requirement_the_build_lock_does_not_meet_fails(project):
    edit(project / "pyproject.toml", '"setuptools>=70.1"', '"setuptools>=999"')
    (problem,) = check.problems(project)
    assert problem.startswith(f"requirements/build.txt pins setuptools=={pinned('setuptools', 'build.txt')}")
    assert "pyproject.toml (build-system.requires)'s setuptools>=999 does not allow" in problem


def test_a_missing_lock_fails(project):
    (project / "requirements" / "test.txt").unlink()
    assert "requirements/test.txt is missing: run `make lock` and commit requirements/." in check.problems(project)


def test_the_command_exits_non_zero_and_lists_every_problem(project):
    command = [sys.executable, str(ROOT / "requirements" / "check.py")]
    agreed = subprocess.run(command, capture_output=True, text=True, check=False)
    assert agreed.returncode == 0, agreed.stderr
    assert agreed.stdout.strip() == "requirements/*.txt agree with setup.cfg and pyproject.toml."

    build = subprocess.run([*command, "build-requires"], capture_output=True, text=True, check=False)
    assert build.stdout.split() == ["setuptools>=70.1"]

    shutil.copyfile(ROOT / "requirements" / "check.py", project / "requirements" / "check.py")
    edit(project / "setup.cfg", "    pyotp>=2.9\n", "    pyotp>=2.9\n    humanize>=4.9\n")
    drifted = subprocess.run(
        [sys.executable, str(project / "requirements" / "check.py")], capture_output=True, text=True, check=False
    )
    assert drifted.returncode == 1
    lines = drifted.stderr.splitlines()
    assert lines[0] == "The locks (requirements/*.txt) disagree with setup.cfg or pyproject.toml:"
    assert len(lines) == 3 and all("humanize>=4.9" in line for line in lines[1:])
