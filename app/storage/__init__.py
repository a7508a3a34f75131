"""Photo files behind one interface, the backend chosen by configuration.

The database keeps a photo's row; a backend keeps its bytes under a key the service
generates (never the client's file name). ``PHOTO_STORAGE`` names the backend
(``local``: files under ``PHOTO_DIR``; ``s3``: objects in an S3-compatible bucket,
app/storage/s3.py); another backend implements :class:`PhotoStorage` and is added to
``BACKENDS``. Whatever the backend, a key holds a whole file or nothing: a reader or a
listing never sees half of one.
"""
from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO

from flask import current_app

# PHOTO_STORAGE value -> "module:class" of its backend, imported only when chosen.
BACKENDS = {"local": "app.storage.local:LocalStorage", "s3": "app.storage.s3:S3Storage"}
# Files are read and copied in pieces of this size: memory stays bounded whatever the file.
CHUNK = 1 << 20


class StorageError(OSError):
    """The backend could not do what was asked (unreachable, refused)."""


def checked_key(key: str) -> str:
    """``key`` if it is a relative '/'-separated key; ValueError for one that could
    leave its folder or bucket prefix ('..', empty parts, backslashes)."""
    parts = key.split("/")
    if "\\" in key or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"Not a storage key: {key!r}")
    return key


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

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """The stored bytes as a stream read in pieces (the caller closes it);
        FileNotFoundError when the key holds nothing."""

    @abstractmethod
    def keys(self) -> Iterator[str]:
        """Every key that holds a whole file (never one being written)."""

    @abstractmethod
    def describe(self) -> str:
        """Where the files are, for messages to an operator."""


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
