"""The domain model stays pure: nothing under app/domain imports Flask or SQLAlchemy."""

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
