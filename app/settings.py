"""The settings a use case reads, handed to app/services by the edge.

Services import no Flask: the application factory (app/__init__.py) names where the
settings come from with `provide`, and a service asks `current()` for them, a small
read-only object over that mapping (thresholds, time zone, limits, keys). What belongs
to a request (its address, its host, its session) is passed in by the route itself.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from app.domain.verification import Thresholds

_provider: Callable[[], Mapping[str, Any]] | None = None


def provide(source: Callable[[], Mapping[str, Any]]) -> None:
    """Where the settings come from (the application's configuration, read at each use)."""
    global _provider
    _provider = source


def current() -> Settings:
    if _provider is None:
        raise RuntimeError("No settings provided: create the app first (app.settings.provide).")
    return Settings(_provider())


class Settings:
    """A read-only view of the configuration, with the values services use by name."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config

    def __getitem__(self, name: str) -> Any:
        return self.config[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.config.get(name, default)

    @cached_property
    def thresholds(self) -> Thresholds:
        """The verification thresholds (flags, clock tolerances)."""
        return Thresholds.from_settings(self.config)

    @property
    def timezone(self) -> str:
        """The organisation's time zone (TIMEZONE), by name."""
        return self.config["TIMEZONE"]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.config["TIMEZONE"])

    @property
    def secret_key(self) -> str | bytes:
        return self.config["SECRET_KEY"]
