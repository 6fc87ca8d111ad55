"""The README and docs/ stand on their own: every link points at a file of this repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_link_points_inside_the_repository(document: Path):
    text = document.read_text(encoding="utf-8")
    for target in LINK.findall(text):
        assert not re.match(r"^[a-z][a-z0-9+.-]*:", target), f"{document.name} links outside: {target}"
        path, _, anchor = target.partition("#")
        if not path:
            continue  # an anchor on the same page
        resolved = (document.parent / path).resolve()
        assert resolved.is_relative_to(ROOT), f"{document.name} links outside the repository: {target}"
        assert resolved.exists(), f"{document.name} links to a missing file: {target}"
        if anchor and resolved.suffix == ".md":
            headings = re.findall(r"^#+ (.+)$", resolved.read_text(encoding="utf-8"), flags=re.MULTILINE)
            slugs = {re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-") for heading in headings}
            assert anchor in slugs, f"{document.name}: no heading #{anchor} in {path}"


def test_the_readme_starts_with_the_two_commands():
    first_lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()[:6]
    assert any(line.startswith("make run") for line in first_lines)
    assert any(line.startswith("make test") for line in first_lines)


def test_the_docs_cover_what_an_operator_needs():
    names = {path.name for path in DOCUMENTS}
    assert {"rules.md", "api.md", "settings.md", "operations.md"} <= names


def test_every_environment_setting_is_documented():
    from cloudcodes.config import DEFAULTS

    internal = {"RATELIMIT_ENABLED", "SQLALCHEMY_TRACK_MODIFICATIONS", "MAX_CONTENT_LENGTH"}
    settings = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    missing = [
        f"CLOUDCODES_{name}" for name in DEFAULTS if name not in internal and f"`CLOUDCODES_{name}`" not in settings
    ]
    assert not missing, f"document these in docs/settings.md: {missing}"
