"""The layers stay apart: nothing under app/domain imports Flask or SQLAlchemy, and
nothing under app/services imports Flask or app.api."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "app" / "domain"
FORBIDDEN = ("flask", "sqlalchemy")  # flask_login, flask_sqlalchemy… included


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


DOMAIN_FILES = sorted(DOMAIN.rglob("*.py"))


def test_domain_has_modules():
    assert DOMAIN_FILES, f"no modules found under {DOMAIN}"


@pytest.mark.parametrize("path", DOMAIN_FILES, ids=lambda p: str(p.relative_to(DOMAIN)))
def test_domain_module_imports_neither_flask_nor_sqlalchemy(path: Path):
    offending = [
        name
        for name in imported_modules(path)
        if name.split(".")[0].lower().startswith(FORBIDDEN)
    ]
    assert offending == [], f"{path.name} imports {offending}"


# --- services know no Flask and no app.api --------------------------------------------
# Services are use cases: they are handed what they need of a request (routes in
# app/api) and read settings through app/settings.py, never flask's current_app.

APP = Path(__file__).resolve().parents[2] / "app"
SERVICES = APP / "services"
SERVICE_FILES = sorted(SERVICES.rglob("*.py"))


def imports_forbidden_in_services(names: list[str]) -> list[str]:
    """Flask (flask, flask_login, flask_limiter…) and the API layer (app.api.*)."""
    return [
        name for name in names
        if name.split(".")[0].lower().startswith("flask")
        or name == "app.api" or name.startswith("app.api.")
    ]


def test_services_have_modules():
    assert len(SERVICE_FILES) > 10, f"no modules found under {SERVICES}"


@pytest.mark.parametrize("path", SERVICE_FILES, ids=lambda p: str(p.relative_to(SERVICES)))
def test_service_imports_neither_flask_nor_the_api(path: Path):
    offending = imports_forbidden_in_services(imported_modules(path))
    assert offending == [], f"{path.name} imports {offending}"


@pytest.mark.parametrize("source, offending", [
    ("from flask import current_app", ["flask"]),
    ("import flask_login", ["flask_login"]),
    ("from app.api.common import paginate", ["app.api.common"]),
    ("def f():\n    from app.api import security", ["app.api"]),
    ("from app.api_base import Blueprint", []),  # a sibling of app.api, not inside it
    ("from app.extensions import db\nimport sqlalchemy", []),
])
def test_the_service_check_finds_what_it_forbids(tmp_path: Path, source: str, offending: list[str]):
    path = tmp_path / "service.py"
    path.write_text(source, encoding="utf-8")
    assert imports_forbidden_in_services(imported_modules(path)) == offending


# --- no import cycle in app/ -----------------------------------------------------------
# Every import counts, those inside a function too (run later, but a cycle all the same:
# visits → alerts → visit_flags → visits was one), except under `if TYPE_CHECKING`.
# `from pkg import name` counts pkg.name when it is a module, else pkg; the implicit
# import of a parent package (app/__init__.py for every app.* module) is left out, as it
# is in every such graph.


def module_name(root: Path, path: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(tree: ast.Module, package: str, modules: set[str]) -> set[str]:
    """The modules of `modules` that a module of `package` imports."""
    found: set[str] = set()
    skipped = {id(inner) for node in ast.walk(tree)
               if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
               for stmt in node.body for inner in ast.walk(stmt)}
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([module] if module else [])])
            for alias in node.names:
                submodule = f"{module}.{alias.name}"
                found.add(submodule if submodule in modules else module)
    return found & modules


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module → the modules of `root` it imports at load time."""
    files = {module_name(root, path): path for path in sorted(root.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        graph[name] = imports_of(tree, package, set(files)) - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_app_has_no_import_cycle():
    graph = import_graph(APP)
    assert len(graph) > 50 and graph["app.services.visits"], "the graph is empty"
    assert cycles(graph) == []


def test_the_cycle_check_finds_a_cycle(tmp_path: Path):
    package = tmp_path / "app"
    (package / "services").mkdir(parents=True)
    (package / "__init__.py").write_text("from app import a\n")
    (package / "a.py").write_text("from app.services import b\n")
    (package / "services" / "__init__.py").write_text("")
    (package / "services" / "b.py").write_text("import app.c\n")
    (package / "c.py").write_text("from app.a import x\n")
    (package / "d.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                  "    from app import a\nfrom . import a\n")
    assert cycles(import_graph(package)) == [["app.a", "app.c", "app.services.b"]]
    (package / "c.py").write_text("def late():\n    from app.a import x\n")  # still a cycle
    assert cycles(import_graph(package)) == [["app.a", "app.c", "app.services.b"]]
    (package / "c.py").write_text("from app import services\n")  # the package, not b
    assert cycles(import_graph(package)) == []
    (package / "e.py").write_text("if TYPE_CHECKING:\n    from app import f\n")
    (package / "f.py").write_text("from app import e\n")
    assert cycles(import_graph(package)) == []
