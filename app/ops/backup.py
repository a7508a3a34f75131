"""Backup and restore of the database and the photo files, while the server runs.

A backup is a folder:

    manifest.json        what is in it: when, which database, every file with its SHA-256
                         and size, the row count of every table, and a digest of itself
    database.sqlite3     SQLite: a copy made with the online backup API, or
    database.pgdump      PostgreSQL: pg_dump in custom format
    photos/<key>         every photo file the copied database refers to, read from the
                         configured storage (files on disk or objects in an S3 bucket)

Consistency: the database is copied first, as one snapshot (SQLite: the backup API copies
every page under one read transaction; PostgreSQL: pg_dump runs on a snapshot exported
by a repeatable-read transaction, in which the row counts and the photo keys are read
too). Photo files are written before the row that names them is committed and are never
removed once committed, so every file the snapshot names exists when the files are
copied afterwards; files of uploads committed after the snapshot are left out.

The folder is written under a temporary name beside DEST and renamed when complete, so
an interrupted backup never looks like one. Restore checks the manifest and every
checksum before it touches anything, refuses to overwrite a database that holds rows
unless told to, and checks the row counts afterwards. Stop the server before restoring.
Photos are restored into the configured storage: the disk's folder is built beside the
old one and swapped in; a bucket receives every file of the backup first, and only then
loses the objects the backup does not have.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from secrets import token_hex
from typing import Any, BinaryIO

import click
import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.storage import CHUNK, PhotoStorage, photo_storage
from app.storage.local import LocalStorage

MANIFEST = "manifest.json"
FORMAT = 1
PHOTOS = "photos"
DATABASE_FILES = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
PHOTO_KEY_COLUMNS = ("original_key", "display_key", "thumb_key")
# Restoring drops and recreates every table; waiting longer than this for a lock held by
# a running server fails the restore instead of hanging it.
RESTORE_LOCK_TIMEOUT = "30s"
# libpq reads these query parameters of a URL from the environment as well.
_LIBPQ_QUERY_ENV = {
    "host": "PGHOST", "port": "PGPORT", "sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY", "connect_timeout": "PGCONNECT_TIMEOUT",
    "options": "PGOPTIONS", "application_name": "PGAPPNAME",
}


class BackupError(Exception):
    """A backup that cannot be made or a backup that must not be restored."""


@dataclass(frozen=True)
class Snapshot:
    """What was read from the database's snapshot besides the copy itself."""

    counts: dict[str, int]
    photo_keys: list[str]
    revision: str | None


# --- backup ---------------------------------------------------------------------------


def backup(dest: Path) -> dict[str, Any]:
    """Write a backup into the new folder ``dest``; returns its manifest."""
    dest = Path(dest).absolute()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"{dest} exists and is not an empty folder.")
    storage = photo_storage()
    kind = database_kind()
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = dest.with_name(f".{dest.name}.partial-{token_hex(4)}")
    work.mkdir()
    try:
        database_file = work / DATABASE_FILES[kind]
        if kind == "sqlite":
            snapshot = _backup_sqlite(database_file)
        else:
            snapshot = _backup_postgresql(database_file)
        files = [_file_entry(work, database_file)]
        missing = []
        for key in sorted(set(snapshot.photo_keys)):
            target = work / PHOTOS / Path(*PurePosixPath(key).parts)
            try:
                with storage.open(key) as source:
                    files.append(_copy_file(source, target, work))
            except FileNotFoundError:
                missing.append(key)
        if missing:
            raise BackupError(
                f"{len(missing)} photo files named in the database are missing from "
                f"{storage.describe()}, the first {missing[0]}; no backup was written."
            )
        manifest = _seal({
            "format": FORMAT,
            "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "database": {"kind": kind, "file": DATABASE_FILES[kind],
                         "revision": snapshot.revision},
            "counts": {"tables": snapshot.counts, "photo_files": len(files) - 1},
            "files": files,
        })
        _write_durably(work / MANIFEST, json.dumps(manifest, indent=2).encode())
        _fsync_tree(work)
        if dest.exists():
            dest.rmdir()  # empty, checked above
        os.replace(work, dest)
        _fsync_dir(dest.parent)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return manifest


def database_kind() -> str:
    name = db.engine.dialect.name
    if name not in DATABASE_FILES:
        raise BackupError(f"Backups cover SQLite and PostgreSQL, not {name}.")
    return name


def _sqlite_path() -> Path:
    database = db.engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError(f"The SQLite database {database!r} is not a plain file.")
    return Path(database)


def _backup_sqlite(target: Path) -> Snapshot:
    """The online backup API: every page in one step, under one read transaction."""
    source_path = _sqlite_path()
    if not source_path.is_file():
        raise BackupError(f"There is no database at {source_path}.")
    timeout = current_app.config.get("SQLITE_BUSY_TIMEOUT_MS", 15000) / 1000
    source = sqlite3.connect(source_path, timeout=timeout)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
        # One self-contained file: no -wal or -shm beside it.
        copy.execute("PRAGMA journal_mode=DELETE")
        check = copy.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"The copy fails SQLite's integrity check: {check}")
        return _read_snapshot(copy.execute, _sqlite_tables(copy))
    finally:
        copy.close()
        source.close()


def _sqlite_tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                        "AND name NOT LIKE 'sqlite_%' ORDER BY name")
    return [name for (name,) in rows]


def _backup_postgresql(target: Path) -> Snapshot:
    """pg_dump on a snapshot exported by a transaction that reads the counts and keys."""
    pg_dump = _tool("pg_dump")
    with db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            snapshot_id = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
            _run([pg_dump, "--format=custom", f"--snapshot={snapshot_id}",
                  f"--file={target}"], "pg_dump")
            tables = sorted(sa.inspect(conn).get_table_names())

            def execute(sql: str):
                return conn.exec_driver_sql(sql)

            return _read_snapshot(execute, tables)


def _read_snapshot(execute, tables: list[str]) -> Snapshot:
    """Row counts, photo keys and the schema revision, with the copy's own connection."""
    counts = {name: int(execute(f'SELECT count(*) FROM "{name}"').fetchone()[0])
              for name in tables}
    keys: list[str] = []
    columns = ", ".join(PHOTO_KEY_COLUMNS)
    for table in ("photos", "case_photos"):  # job photos and knowledge cases' photos
        if table in tables:
            for row in execute(f"SELECT {columns} FROM {table}"):
                keys.extend(key for key in row if key)
    revision = None
    if "alembic_version" in tables:
        row = execute("SELECT version_num FROM alembic_version").fetchone()
        revision = row[0] if row else None
    return Snapshot(counts, keys, revision)


# --- restore --------------------------------------------------------------------------


def read_backup(src: Path) -> dict[str, Any]:
    """The manifest of the backup in ``src``, once it and every file check out."""
    src = Path(src)
    try:
        manifest = json.loads((src / MANIFEST).read_bytes())
    except FileNotFoundError:
        raise BackupError(f"{src} holds no {MANIFEST}; it is not a backup.") from None
    except ValueError as exc:
        raise BackupError(f"The manifest is damaged: {exc}.") from None
    _check_manifest(manifest)
    listed = set()
    for entry in manifest["files"]:
        path = _backup_file(src, entry["path"])
        listed.add(path.relative_to(src).as_posix())
        try:
            size, digest = _digest(path)
        except FileNotFoundError:
            raise BackupError(f"{entry['path']} is listed in the manifest but missing.") from None
        if (size, digest) != (entry["size"], entry["sha256"]):
            raise BackupError(f"{entry['path']} does not match its checksum in the manifest.")
    extra = sorted(p.relative_to(src).as_posix() for p in src.rglob("*")
                   if p.is_file() and p.relative_to(src).as_posix() not in listed | {MANIFEST})
    if extra:
        raise BackupError(f"{extra[0]} is in the backup but not in its manifest.")
    return manifest


def _check_manifest(manifest: Any) -> None:
    """The shape of the manifest, and its digest over its own content."""
    try:
        ok = (
            isinstance(manifest, dict)
            and manifest.get("format") == FORMAT
            and manifest["database"]["kind"] in DATABASE_FILES
            and manifest["database"]["file"] == DATABASE_FILES[manifest["database"]["kind"]]
            and isinstance(manifest["counts"]["tables"], dict)
            and isinstance(manifest["files"], list)
            and all(_valid_entry(entry) for entry in manifest["files"])
            and manifest["files"][0]["path"] == manifest["database"]["file"]
            and all(entry["path"].startswith(PHOTOS + "/") for entry in manifest["files"][1:])
        )
    except (KeyError, TypeError, IndexError):
        ok = False
    if not ok:
        raise BackupError("The manifest is damaged or of an unknown format.")
    if manifest.get("sha256") != _manifest_digest(manifest):
        raise BackupError("The manifest does not match its own checksum; it was changed.")


def _valid_entry(entry: Any) -> bool:
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
        return False
    parts = PurePosixPath(entry["path"]).parts
    safe = bool(parts) and not entry["path"].startswith("/") and ".." not in parts
    return (safe and isinstance(entry.get("size"), int)
            and isinstance(entry.get("sha256"), str) and len(entry["sha256"]) == 64)


def database_counts() -> dict[str, int]:
    """Rows per table of the configured database (an empty dict: no tables yet)."""
    with db.engine.connect() as conn:
        tables = sorted(sa.inspect(conn).get_table_names())
        return {name: conn.exec_driver_sql(f'SELECT count(*) FROM "{name}"').scalar_one()
                for name in tables}


def restore(src: Path, overwrite: bool = False) -> dict[str, Any]:
    """Replace the database and the photo files with the backup in ``src``."""
    src = Path(src).absolute()
    manifest = read_backup(src)
    kind = database_kind()
    if manifest["database"]["kind"] != kind:
        raise BackupError(f"This is a {manifest['database']['kind']} backup; the configured "
                          f"database is {kind}.")
    storage = photo_storage()
    db.session.remove()
    if not overwrite:
        holding = {name: n for name, n in database_counts().items()
                   if n and name != "alembic_version"}
        if holding:
            raise BackupError(f"The database is not empty ({sum(holding.values())} rows in "
                              f"{len(holding)} tables); pass --yes to replace it.")
        if next(iter(storage.keys()), None) is not None:
            raise BackupError(f"{storage.describe()} holds photo files; pass --yes to replace "
                              "them.")
    db.engine.dispose()
    database_file = src / manifest["database"]["file"]
    if kind == "sqlite":
        _restore_sqlite(database_file)
    else:
        _restore_postgresql(database_file)
    db.engine.dispose()
    photos = [entry["path"] for entry in manifest["files"][1:]]
    if isinstance(storage, LocalStorage):
        _restore_photos(src, photos, storage.root)
    else:
        _restore_objects(src, photos, storage)
    counts = database_counts()
    if counts != manifest["counts"]["tables"]:
        differ = sorted(name for name in set(counts) | set(manifest["counts"]["tables"])
                        if counts.get(name) != manifest["counts"]["tables"].get(name))
        raise BackupError(f"After the restore the row counts differ from the backup's in: "
                          f"{', '.join(differ)}.")
    return manifest


def _restore_sqlite(backup_file: Path) -> None:
    """The backup API again, from the (checked) copy into the configured file: SQLite
    writes the pages under its own lock, whatever -wal file the target has."""
    target = _sqlite_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    timeout = current_app.config.get("SQLITE_BUSY_TIMEOUT_MS", 15000) / 1000
    # Read-only and immutable: the backup is never changed, not even by a -wal or -shm.
    source = sqlite3.connect(f"{backup_file.as_uri()}?mode=ro&immutable=1", uri=True)
    try:
        check = source.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"The backup's database fails SQLite's integrity check: {check}")
        destination = sqlite3.connect(target, timeout=timeout)
        try:
            source.backup(destination)
            destination.execute("PRAGMA journal_mode=WAL")
            destination.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            destination.close()
    finally:
        source.close()


def _restore_postgresql(dump: Path) -> None:
    """pg_restore in one transaction: all of the backup, or nothing changed."""
    pg_restore = _tool("pg_restore")
    _run([pg_restore, "--clean", "--if-exists", "--no-owner", "--no-privileges",
          "--single-transaction", "--exit-on-error", f"--dbname={_libpq_env()['PGDATABASE']}",
          str(dump)], "pg_restore", extra_env={"PGOPTIONS": f"-c lock_timeout={RESTORE_LOCK_TIMEOUT}"})


def _restore_photos(src: Path, paths: list[str], root: Path) -> None:
    """Build the photo folder beside the current one, then swap the two."""
    root = root.absolute()
    root.parent.mkdir(parents=True, exist_ok=True)
    fresh = root.with_name(f".{root.name}.restore-{token_hex(4)}")
    fresh.mkdir()
    try:
        for path in paths:
            relative = PurePosixPath(path).relative_to(PHOTOS)
            with _backup_file(src, path).open("rb") as source:
                _copy_file(source, fresh / Path(*relative.parts), fresh)
        _fsync_tree(fresh)
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    old = root.with_name(f".{root.name}.old-{token_hex(4)}")
    if root.exists():
        os.replace(root, old)
    os.replace(fresh, root)
    _fsync_dir(root.parent)
    shutil.rmtree(old, ignore_errors=True)


def _restore_objects(src: Path, paths: list[str], storage: PhotoStorage) -> None:
    """Every file of the backup put into the storage, then whatever else it held removed:
    a restore that stops half-way has lost nothing the backup or the storage had."""
    keys = set()
    for path in paths:
        key = PurePosixPath(path).relative_to(PHOTOS).as_posix()
        storage.put(key, _backup_file(src, path).read_bytes())
        keys.add(key)
    for key in [key for key in storage.keys() if key not in keys]:
        storage.delete(key)


def _backup_file(src: Path, path: str) -> Path:
    return src / Path(*PurePosixPath(path).parts)


# --- files, digests, tools --------------------------------------------------------------


def _digest(path: Path) -> tuple[int, str]:
    sha, size = hashlib.sha256(), 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            sha.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest()


def _file_entry(base: Path, path: Path) -> dict[str, Any]:
    size, digest = _digest(path)
    return {"path": path.relative_to(base).as_posix(), "size": size, "sha256": digest}


def _copy_file(source: BinaryIO, target: Path, base: Path) -> dict[str, Any]:
    """Copy while hashing; the manifest entry of the copy (path relative to ``base``)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    sha, size = hashlib.sha256(), 0
    with target.open("wb") as out:
        for chunk in iter(lambda: source.read(CHUNK), b""):
            sha.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return {"path": target.relative_to(base).as_posix(), "size": size, "sha256": sha.hexdigest()}


def _manifest_digest(manifest: Mapping[str, Any]) -> str:
    body = {key: value for key, value in manifest.items() if key != "sha256"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _seal(manifest: dict[str, Any]) -> dict[str, Any]:
    manifest["sha256"] = _manifest_digest(manifest)
    return manifest


def _write_durably(path: Path, data: bytes) -> None:
    with path.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _fsync_tree(root: Path) -> None:
    """Every file and folder below ``root`` on disk, not only in the page cache."""
    for folder, _, names in os.walk(root):
        for name in names:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(folder))


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not on PATH; install the PostgreSQL client tools.")
    return path


def _libpq_env() -> dict[str, str]:
    """The connection parameters of DATABASE_URL for libpq tools, through the
    environment so that a password never shows in the process list."""
    url = db.engine.url
    env = {"PGDATABASE": url.database or ""}
    for name, value in (("PGHOST", url.host), ("PGPORT", url.port), ("PGUSER", url.username),
                        ("PGPASSWORD", url.password)):
        if value is not None:
            env[name] = str(value)
    for key, value in url.query.items():
        if key in _LIBPQ_QUERY_ENV:
            env[_LIBPQ_QUERY_ENV[key]] = value if isinstance(value, str) else value[0]
    return env


def _run(command: list[str], name: str, extra_env: Mapping[str, str] | None = None) -> None:
    env = {**os.environ, **_libpq_env(), **(extra_env or {})}
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupError(f"{name} failed ({result.returncode}): {result.stderr.strip()}")


# --- commands -------------------------------------------------------------------------


@click.command("backup")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
def backup_command(dest: Path) -> None:
    """Copy the database and the photo files into the new folder DEST (server may run)."""
    try:
        manifest = backup(dest)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    rows = sum(manifest["counts"]["tables"].values())
    click.echo(f"Backup written to {dest}: {manifest['database']['kind']} database "
               f"({rows} rows in {len(manifest['counts']['tables'])} tables), "
               f"{manifest['counts']['photo_files']} photo files.")


@click.command("restore")
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Replace a database that holds rows, and its photos.")
def restore_command(src: Path, yes: bool) -> None:
    """Bring back the database and photo files from the backup in SRC (server stopped)."""
    try:
        manifest = restore(src, overwrite=yes)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    rows = sum(manifest["counts"]["tables"].values())
    click.echo(f"Restored the backup of {manifest['created_at']}: {rows} rows, "
               f"{manifest['counts']['photo_files']} photo files.")
