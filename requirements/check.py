"""Do the locks agree with what the project asks for? ``make lock-check`` (run by ``make test``).

    python requirements/check.py                  # exit 1, with every disagreement, when they do not
    python requirements/check.py build-requires   # pyproject.toml's build requirements, one a line

The locks are compiled by ``make lock``: ``base.txt`` from setup.cfg's ``install_requires``,
``test.txt`` from the same plus the ``test`` extra (constrained by base.txt, so the versions agree),
``build.txt`` from pyproject.toml's ``build-system.requires``. Offline and without the compiler, this
checks that each lock pins every declared requirement to a version the declaration allows, that
each pin has hashes, and that no pin is left over: a pin the compiler put there for a declaration
(``# via cloudcodes-partner-portal (setup.cfg)``) whose declaration is gone, or one that only a pin
missing from the file asked for.
"""

from __future__ import annotations

import configparser
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
FIX = "run `make lock` and commit requirements/"
_SOURCE_FILE = re.compile(r"^\S+ \((?P<file>[^)]+)\)$")  # "cloudcodes-partner-portal (setup.cfg)"


@dataclass
class Pin:
    name: str  # canonical
    text: str  # as written, e.g. "Flask==3.1.2"
    version: str | None  # None when not pinned with ==
    hashes: list[str] = field(default_factory=list)
    via: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Lock:
    path: str  # relative to the root, for the messages
    declared: tuple[Requirement, ...]
    declared_by: str  # where the declarations come from, for the messages
    constrained_by: str | None = None  # another lock whose versions this one must repeat


def build_requires(root: Path) -> list[str]:
    """pyproject.toml's build-system.requires, as written (needs nothing but the standard library)."""
    with (root / "pyproject.toml").open("rb") as pyproject:
        return list(tomllib.load(pyproject).get("build-system", {}).get("requires", []))


def declared_requirements(root: Path) -> dict[str, tuple[Requirement, ...]]:
    """setup.cfg's install_requires and each extra, and pyproject.toml's build requirements."""
    from packaging.requirements import Requirement

    setup = configparser.ConfigParser()
    setup.read(root / "setup.cfg", encoding="utf-8")

    def parse(value: str) -> tuple[Requirement, ...]:
        lines = [line.split("#", 1)[0].strip() for line in value.splitlines()]
        return tuple(Requirement(line) for line in lines if line)

    declared = {"install_requires": parse(setup.get("options", "install_requires", fallback=""))}
    if setup.has_section("options.extras_require"):
        for extra, value in setup.items("options.extras_require"):
            declared[f"extra:{extra}"] = parse(value)
    declared["build"] = tuple(Requirement(text) for text in build_requires(root))
    return declared


def project_name(root: Path) -> str:
    from packaging.utils import canonicalize_name

    setup = configparser.ConfigParser()
    setup.read(root / "setup.cfg", encoding="utf-8")
    return canonicalize_name(setup.get("metadata", "name"))


def read_lock(path: Path) -> tuple[list[Pin], list[str]]:
    """The pins of a compiled requirements file (pip-compile's or uv's format), and what is malformed."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    pins: list[Pin] = []
    problems: list[str] = []
    entry: list[str] = []
    in_via = False

    def finish() -> None:
        if not entry:
            return
        words = " ".join(part.rstrip("\\").strip() for part in entry).split()
        hashes = [word.removeprefix("--hash=") for word in words if word.startswith("--hash=")]
        text = " ".join(word for word in words if not word.startswith("--"))
        entry.clear()
        try:
            requirement = Requirement(text)
        except InvalidRequirement as error:
            problems.append(f"{path.name}: cannot read {text!r} ({error})")
            return
        exact = [spec.version for spec in requirement.specifier if spec.operator == "=="]
        version = exact[0] if len(exact) == 1 and len(requirement.specifier) == 1 else None
        pins.append(Pin(canonicalize_name(requirement.name), text, version, hashes))

    continued = False
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if continued:
            entry.append(line)
            continued = line.endswith("\\")
            continue
        if not line:
            continue
        if line.startswith("#"):
            comment = line.lstrip("#").strip()
            if not pins and not entry:
                continue  # the header
            finish()
            if comment.startswith("via"):
                rest = comment.removeprefix("via").strip()
                in_via = not rest
                if rest:
                    pins[-1].via.append(rest)
            elif in_via and comment and pins:
                pins[-1].via.append(comment)
            else:
                in_via = False
            continue
        in_via = False
        finish()
        if line.startswith("-"):
            continue  # an option line (--index-url, -c ...): not a pin
        entry.append(line)
        continued = line.endswith("\\")
    finish()
    return pins, problems


def check_lock(root: Path, lock: Lock, project: str) -> list[str]:
    from packaging.utils import canonicalize_name

    path = root / lock.path
    if not path.is_file():
        return [f"{lock.path} is missing: {FIX}."]
    pins, problems = read_lock(path)
    by_name: dict[str, Pin] = {}
    for pin in pins:
        if pin.name in by_name:
            problems.append(f"{lock.path} pins {pin.name} twice: {FIX}.")
        by_name[pin.name] = pin
        if pin.version is None:
            problems.append(f"{lock.path}: {pin.text} is not pinned to one version (name==version): {FIX}.")
        if not pin.hashes:
            problems.append(f"{lock.path}: {pin.text} has no --hash, and pip's --require-hashes refuses it: {FIX}.")

    wanted = {}
    for requirement in lock.declared:
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue  # not for this Python or platform
        name = canonicalize_name(requirement.name)
        wanted[name] = requirement
        pin = by_name.get(name)
        if pin is None:
            problems.append(f"{lock.declared_by} asks for {requirement}, which {lock.path} does not pin: {FIX}.")
        elif pin.version is not None and not requirement.specifier.contains(pin.version, prereleases=True):
            problems.append(
                f"{lock.path} pins {pin.name}=={pin.version}, which {lock.declared_by}'s {requirement} does not "
                f"allow: {FIX}."
            )

    for pin in pins:
        reasons = [reason for reason in pin.via if not reason.startswith(("-c ", "-r "))]
        top_level = any(_SOURCE_FILE.match(reason) for reason in reasons) or not pin.via
        if top_level and pin.name not in wanted:
            problems.append(f"{lock.path} pins {pin.name} for {lock.declared_by}, which no longer asks for it: {FIX}.")
        missing = [
            reason
            for reason in reasons
            if not _SOURCE_FILE.match(reason)
            and canonicalize_name(reason) not in by_name
            and canonicalize_name(reason) != project
        ]
        if missing:
            problems.append(
                f"{lock.path} pins {pin.name} for {', '.join(missing)}, which it does not pin itself: {FIX}."
            )
        if pin.via and not reasons:
            problems.append(f"{lock.path} pins {pin.name}, which nothing in {lock.declared_by} needs: {FIX}.")

    if lock.constrained_by:
        base, _ = read_lock(root / lock.constrained_by) if (root / lock.constrained_by).is_file() else ([], [])
        for pin in base:
            mine = by_name.get(pin.name)
            if mine is None or mine.version != pin.version:
                found = f"{mine.name}=={mine.version}" if mine else "nothing"
                problems.append(
                    f"{lock.constrained_by} pins {pin.name}=={pin.version} but {lock.path} {found}: the two "
                    f"would install different programs; {FIX}."
                )
    return problems


def locks(root: Path) -> list[Lock]:
    declared = declared_requirements(root)
    base = declared["install_requires"]
    return [
        Lock("requirements/base.txt", base, "setup.cfg (install_requires)"),
        Lock(
            "requirements/test.txt",
            base + declared.get("extra:test", ()),
            "setup.cfg (install_requires and the test extra)",
            constrained_by="requirements/base.txt",
        ),
        Lock("requirements/build.txt", declared["build"], "pyproject.toml (build-system.requires)"),
    ]


def problems(root: Path = ROOT) -> list[str]:
    project = project_name(root)
    found: list[str] = []
    for lock in locks(root):
        found.extend(check_lock(root, lock, project))
    return found


def main(argv: list[str]) -> int:
    if argv == ["build-requires"]:
        print("\n".join(build_requires(ROOT)))
        return 0
    if argv:
        print(__doc__, file=sys.stderr)
        return 2
    found = problems(ROOT)
    if found:
        print("The locks (requirements/*.txt) disagree with setup.cfg or pyproject.toml:", file=sys.stderr)
        for problem in found:
            print(f"- {problem}", file=sys.stderr)
        return 1
    print("requirements/*.txt agree with setup.cfg and pyproject.toml.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
