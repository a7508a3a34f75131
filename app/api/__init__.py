"""The HTTP API: one package per resource, each with `routes.py` defining `blp`."""
from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from app.api_base import Blueprint


def resource_blueprints() -> list[Blueprint]:
    """Every resource package's blueprint, found by name so that adding a resource
    needs no edit elsewhere."""
    here = Path(__file__).parent
    blueprints = []
    for info in sorted(pkgutil.iter_modules([str(here)]), key=lambda m: m.name):
        if info.ispkg and (here / info.name / "routes.py").exists():
            module = importlib.import_module(f"{__name__}.{info.name}.routes")
            blueprints.append(module.blp)
    return blueprints
