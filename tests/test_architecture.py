"""Dependencies between Laurels' apps flow one way: down the layers of docs/architecture.md.

The order lives here, in `LAYERS`, and nowhere else (the doc points to it). Every
module under src/laurels is parsed — imports at the top, inside functions and under
`TYPE_CHECKING` all count — and each import of another app is checked against it.
"""

from __future__ import annotations

import ast
import graphlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import laurels

# Bottom to top: an app may import the apps before it, never one after it.
LAYERS = (
    "core",
    "jobs",
    "accounts",
    "issuing",
    "openbadges",
    "connect",
    "backpack",
    "badgr",
    "lti",
    "api",
    "web",
)
# The composition root: wires the apps together, may import any of them; no app imports
# it (apps read configuration through `django.conf.settings`).
ROOT = frozenset({"settings", "urls", "cli", "wsgi", "asgi", "config", "__main__", "__init__"})

SOURCE = Path(laurels.__file__).parent


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. laurels.issuing.services
    line: int
    target: str  # what it imports, e.g. laurels.connect.permissions

    @property
    def source_part(self) -> str:
        return self.module.split(".")[1]

    @property
    def target_part(self) -> str:
        return self.target.split(".")[1]

    def __str__(self) -> str:
        return f"{self.module} (line {self.line}) imports {self.target}"


def module_name(path: Path, source: Path) -> str:
    parts = ["laurels", *path.relative_to(source).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 2 else parts)


def imported_names(node: ast.AST, module: str, is_package: bool) -> list[str]:
    """The dotted names an import statement reaches (relative imports resolved)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[: len(package) - node.level + 1]
        base = ".".join([*package, base] if base else package)
    # `from laurels import connect` imports laurels.connect (`__version__` is no module).
    submodules = [alias.name for alias in node.names if base == "laurels"]
    return [base, *(f"laurels.{name}" for name in submodules if not name.startswith("__"))]


def laurels_imports(source: Path = SOURCE) -> Iterator[Import]:
    """Every import of a laurels module by a laurels module, from one part to another."""
    for path in sorted(source.rglob("*.py")):
        module = module_name(path, source)
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            for name in imported_names(node, module, path.name == "__init__.py"):
                parts = name.split(".")
                if parts[0] != "laurels" or len(parts) < 2:
                    continue
                found = Import(module, node.lineno, name)
                if found.source_part != found.target_part:
                    yield found


def layer_violations(source: Path = SOURCE) -> list[str]:
    rank = {app: index for index, app in enumerate(LAYERS)}
    problems = []
    for found in laurels_imports(source):
        importer, imported = found.source_part, found.target_part
        if importer in ROOT:
            continue
        if importer not in rank:
            problems.append(f"{found.module}: app {importer!r} has no place in LAYERS")
        elif imported in ROOT:
            problems.append(f"{found}: apps do not import the composition root")
        elif imported not in rank:
            problems.append(f"{found}: {imported!r} has no place in LAYERS")
        elif rank[imported] > rank[importer]:
            problems.append(f"{found}: {imported} is above {importer}")
    return sorted(set(problems))


def part_cycle(source: Path = SOURCE) -> list[str] | None:
    """A cycle of imports between parts (apps and root modules), or None."""
    graph: dict[str, set[str]] = {}
    for found in laurels_imports(source):
        graph.setdefault(found.source_part, set()).add(found.target_part)
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as error:
        return error.args[1]
    return None


def test_every_app_has_a_layer():
    apps = {path.parent.name for path in SOURCE.glob("*/apps.py")}
    assert apps == set(LAYERS)


def test_no_app_imports_an_app_above_it():
    problems = layer_violations()
    assert not problems, "Imports against the layers (docs/architecture.md):\n" + "\n".join(
        problems
    )


def test_the_imports_between_apps_have_no_cycle():
    assert part_cycle() is None, f"Import cycle between apps: {' -> '.join(part_cycle())}"


def test_imports_inside_functions_and_relative_imports_count(tmp_path):
    """The checker itself: an upward import hidden in a function body, or written
    relative, is found and named."""
    package = tmp_path / "laurels"
    (package / "issuing").mkdir(parents=True)
    (package / "connect").mkdir()
    (package / "__init__.py").write_text("")
    (package / "issuing" / "__init__.py").write_text("")
    (package / "connect" / "__init__.py").write_text("from laurels.issuing import models\n")
    (package / "issuing" / "services.py").write_text(
        "def act():\n    from ..connect import permissions\n"
    )
    assert layer_violations(package) == [
        "laurels.issuing.services (line 2) imports laurels.connect: connect is above issuing"
    ]
    assert set(part_cycle(package)) == {"issuing", "connect"}
