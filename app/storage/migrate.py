"""`flask photos-migrate`: copy the photo files from one storage backend to the other
(the disk under PHOTO_DIR and the S3 bucket of the S3_* settings), checked by SHA-256.

Every file the database names is copied, and then read back from the target and hashed:
the copy counts only when its hash is the source's (and, for an original, the hash the
photo's row has kept since the upload). A file already in the target with the right
hash is left alone, so the command can run again after an interruption, and once more
after the servers were switched to the new backend, to pick up the uploads made while
it first ran. ``--check`` compares without writing anything.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import click
import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.models import Photo
from app.storage import BACKENDS, PhotoStorage, storage_from_config


@dataclass
class Migration:
    copied: int = 0
    already: int = 0
    missing: list[str] = field(default_factory=list)
    differing: list[str] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.differing and not self.damaged


def backend(name: str) -> PhotoStorage:
    """The backend ``name`` as the settings describe it, whatever PHOTO_STORAGE says."""
    return storage_from_config({**current_app.config, "PHOTO_STORAGE": name})


def photo_files() -> Iterator[tuple[str, str | None]]:
    """(key, expected SHA-256 or None) of every file the database names."""
    rows = db.session.execute(sa.select(Photo.original_key, Photo.display_key, Photo.thumb_key,
                                        Photo.sha256).order_by(Photo.id))
    for original, display, thumb, sha256 in rows:
        yield original, sha256
        yield display, None
        yield thumb, None


def migrate(source: PhotoStorage, target: PhotoStorage, check_only: bool = False) -> Migration:
    result = Migration()
    for key, expected in photo_files():
        try:
            digest = _sha256(source.read(key))
        except FileNotFoundError:
            result.missing.append(key)
            continue
        if expected is not None and digest != expected:
            result.damaged.append(key)  # never copied
            continue
        if _digest_or_none(target, key) == digest:
            result.already += 1
            continue
        if check_only:
            result.differing.append(key)
            continue
        target.put(key, source.read(key))
        if _digest_or_none(target, key) != digest:
            result.differing.append(key)
        else:
            result.copied += 1
    return result


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _digest_or_none(storage: PhotoStorage, key: str) -> str | None:
    try:
        return _sha256(storage.read(key))
    except FileNotFoundError:
        return None


@click.command("photos-migrate")
@click.option("--from", "source", type=click.Choice(sorted(BACKENDS)), required=True,
              help="The backend the files are in now.")
@click.option("--to", "target", type=click.Choice(sorted(BACKENDS)), required=True,
              help="The backend to copy them to.")
@click.option("--check", is_flag=True, help="Only compare the two; write nothing.")
def photos_migrate_command(source: str, target: str, check: bool) -> None:
    """Copy every photo file from one backend to the other, checked by SHA-256."""
    if source == target:
        raise click.UsageError("--from and --to name the same backend.")
    try:
        result = migrate(backend(source), backend(target), check_only=check)
    except (ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    total = (result.copied + result.already + len(result.missing) + len(result.differing)
             + len(result.damaged))
    click.echo(f"{total} photo files: {result.copied} copied, {result.already} already in "
               f"{target} with the same SHA-256.")
    for key in result.missing:
        click.echo(f"missing from {source}: {key}", err=True)
    for key in result.damaged:
        click.echo(f"not the photo's uploaded bytes (SHA-256) in {source}: {key}", err=True)
    for key in result.differing:
        click.echo(f"{'differs' if check else 'not copied exactly'}: {key}", err=True)
    if not result.ok:
        raise SystemExit(1)
    click.echo(f"Every file is in {target} with the SHA-256 it has in {source}.")
