"""Photo files on the local disk, under ``PHOTO_DIR`` (the instance folder by default)."""
from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from app.storage import PhotoStorage, checked_key

# Files being written carry this prefix until they are renamed into place.
TEMPORARY_PREFIX = ".upload-"


class LocalStorage(PhotoStorage):
    """One file per key below ``root``; a key's '/' separated parts become folders."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> LocalStorage:
        return cls(config["PHOTO_DIR"])

    def path(self, key: str) -> Path:
        """The file of ``key``; ValueError for a key that could leave ``root``."""
        return self.root.joinpath(*checked_key(key).split("/"))

    def put(self, key: str, data: bytes) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Written beside the target and renamed into place: a reader never sees half a
        # file, and a failed write leaves no stray file behind.
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=TEMPORARY_PREFIX, suffix=".tmp")
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

    def open(self, key: str) -> BinaryIO:
        # Read whole (a photo is at most 25 MB) rather than handed out as an open file,
        # so that no file handle outlives a response that is never read to its end.
        return io.BytesIO(self.read(key))

    def keys(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for folder, _, names in os.walk(self.root):
            for name in sorted(names):
                if not name.startswith(TEMPORARY_PREFIX):
                    yield (Path(folder) / name).relative_to(self.root).as_posix()

    def describe(self) -> str:
        return str(self.root)
