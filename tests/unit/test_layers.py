"""The code's layers only point down: a walk over every import of the package (at the top of a module
or inside a function), which fails on an import of a higher layer from a lower one.

Lowest first: the foundation (clock, money, the database, the service base, formatting, and the
pure rule modules), then the feature packages in the order they build on one another, then the
interfaces (pages, API, commands, demo data, the app factory). Imports under ``if TYPE_CHECKING:``
are for annotations only and are not counted. The pure rule modules also stay free of Flask and
the database.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "cloudcodes"

FOUNDATION = "foundation"
INTERFACE = "interface"

# Each feature package may import the foundation and the packages listed before it, never after.
FEATURE_ORDER = [
    "jobs",  # the task queue and its run records: every feature's tasks.py builds on it
    "audit",
    "mail",
    "program",
    "public",
    "auth",
    "partners",
    "applications",
    "referrals",
    "notices",  # partner users' e-mail notices: billing and levels raise them
    "billing",
    "qualification",
]
FOUNDATION_MODULES = {
    "clock",
    "config",
    "content",
    "crypto",
    "db",
    "errors",
    "extensions",
    "formatting",
    "forms",
    "money",
    "observability",
    "search",
    "security",
    "services",
    "urls",
}
INTERFACE_PACKAGES = {"admin", "api", "dashboard", "demo", "models", "web", "__init__"}
# Modules of a feature package that face the outside: they may use anything below the interfaces.
INTERFACE_MODULE_NAMES = {"views", "cli", "demo", "worker"}  # and every ``*_views`` module

# The rules of the business: no Flask, no database, tested on their own.
PURE_RULE_MODULES = [
    "applications.rules",
    "applications.states",
    "auth.passwords",
    "billing.commission",
    "billing.periods",
    "notices.rules",
    "partners.access",
    "partners.levels",
    "partners.payout_rules",
    "program.terms",
    "referrals.codes",
    "referrals.deal_rules",
    "referrals.domains",
    "search",
]
NOT_IN_PURE_RULES = ("flask", "flask_sqlalchemy", "sqlalchemy", "cloudcodes.extensions", "cloudcodes.db")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts) or "__init__"


def layer_of(module: str) -> tuple[int, str]:
    """The layer's rank (higher may import lower) and its name."""
    top, _, rest = module.partition(".")
    last = module.rsplit(".", 1)[-1]
    facing_out = last in INTERFACE_MODULE_NAMES or last.endswith("_views")
    if top in INTERFACE_PACKAGES or (top in FEATURE_ORDER and facing_out and rest):
        return len(FEATURE_ORDER) + 1, INTERFACE
    if top in FOUNDATION_MODULES or module in PURE_RULE_MODULES:
        return 0, FOUNDATION
    if top in FEATURE_ORDER:
        return FEATURE_ORDER.index(top) + 1, top
    raise AssertionError(f"cloudcodes.{module} has no layer: add its package to tests/unit/test_layers.py")


def _type_checking_blocks(tree: ast.AST) -> set[int]:
    """The ids of the import nodes under ``if TYPE_CHECKING:``."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            skipped.update(id(child) for child in ast.walk(node))
    return skipped


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Every module of the package (and every outside module) imported in ``path``, with its line."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_blocks(tree)
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "cloudcodes":  # from cloudcodes import clock, formatting
                found.extend((node.lineno, f"cloudcodes.{alias.name}") for alias in node.names)
            else:
                found.append((node.lineno, node.module))
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_the_walk_sees_the_whole_package():
    names = {module_name(path) for path in MODULES}
    assert {"billing.services", "qualification.services", "admin.services.staff", "web"} <= names
    for name in names:
        layer_of(name)  # every module has a layer


@pytest.mark.parametrize("path", MODULES, ids=lambda path: module_name(path))
def test_imports_only_point_down(path: Path):
    module = module_name(path)
    rank, layer = layer_of(module)
    upward = []
    for line, imported in imports_of(path):
        if not imported.startswith("cloudcodes.") and imported != "cloudcodes":
            continue
        target = imported.removeprefix("cloudcodes.") if imported != "cloudcodes" else "__init__"
        target_rank, target_layer = layer_of(target)
        if target_rank > rank:
            upward.append(f"line {line}: {layer} module imports {imported} ({target_layer})")
    assert not upward, f"cloudcodes.{module} imports a higher layer:\n" + "\n".join(upward)


@pytest.mark.parametrize("module", PURE_RULE_MODULES)
def test_pure_rules_need_no_flask_and_no_database(module: str):
    path = PACKAGE / (module.replace(".", "/") + ".py")
    offending = [
        f"line {line}: {imported}"
        for line, imported in imports_of(path)
        if any(imported == banned or imported.startswith(banned + ".") for banned in NOT_IN_PURE_RULES)
    ]
    assert not offending, f"cloudcodes.{module} is a rule module but imports:\n" + "\n".join(offending)


def test_the_walk_catches_an_upward_import(tmp_path: Path):
    """The check itself works: billing importing the level rules' package would be reported."""
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from cloudcodes.qualification.services import check_upgrade\n")
    (line, imported), *_ = imports_of(sample)
    assert (line, imported) == (2, "cloudcodes.qualification.services")
    assert layer_of("qualification.services")[0] > layer_of("billing.services")[0]
