"""Photo files on the local disk, under ``PHOTO_DIR`` (the instance folder by default)."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app.storage import PhotoStorage


class LocalStorage(PhotoStorage):
    """One file per key below ``root``; a key's '/' separated parts become folders."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> LocalStorage:
        return cls(config["PHOTO_DIR"])

    def path(self, key: str) -> Path:
        """The file of ``key``; ValueError for a key that could leave ``root``."""
        parts = key.split("/")
        if "\\" in key or any(part in ("", ".", "..") for part in parts):
            raise ValueError(f"Not a storage key: {key!r}")
        return self.root.joinpath(*parts)

    def put(self, key: str, data: bytes) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Written beside the target and renamed into place: a reader never sees half a
        # file, and a failed write leaves no stray file behind.
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".upload-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def read(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()
