"""Photo files behind one interface, the backend chosen by configuration.

The database keeps a photo's row; a backend keeps its bytes under a key the service
generates (never the client's file name). ``PHOTO_STORAGE`` names the backend
(``local``: files under ``PHOTO_DIR``); another backend (S3, say) implements
:class:`PhotoStorage` and is added to ``BACKENDS``.
"""
from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from flask import current_app

# PHOTO_STORAGE value -> "module:class" of its backend, imported only when chosen.
BACKENDS = {"local": "app.storage.local:LocalStorage"}


class PhotoStorage(ABC):
    """Where photo files live. Keys are relative, '/'-separated and made by the caller."""

    @classmethod
    @abstractmethod
    def from_config(cls, config: Mapping[str, Any]) -> PhotoStorage:
        """The backend as configured (``app.config`` or any mapping of settings)."""

    @abstractmethod
    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` completely or not at all."""

    @abstractmethod
    def read(self, key: str) -> bytes:
        """The stored bytes; FileNotFoundError when the key holds nothing."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the file; a key that holds nothing is not an error."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether the key holds a file."""


def storage_from_config(config: Mapping[str, Any]) -> PhotoStorage:
    """The backend named by ``PHOTO_STORAGE``; ValueError for an unknown name."""
    name = config.get("PHOTO_STORAGE", "local")
    if name not in BACKENDS:
        raise ValueError(f"PHOTO_STORAGE={name!r} is not one of {', '.join(sorted(BACKENDS))}.")
    module_name, class_name = BACKENDS[name].split(":")
    backend: type[PhotoStorage] = getattr(importlib.import_module(module_name), class_name)
    return backend.from_config(config)


def photo_storage() -> PhotoStorage:
    """The current application's backend, made once per application."""
    extensions = current_app.extensions
    if "photo_storage" not in extensions:
        extensions["photo_storage"] = storage_from_config(current_app.config)
    return extensions["photo_storage"]
