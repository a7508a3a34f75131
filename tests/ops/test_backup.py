"""`flask backup` and `flask restore` (quality.md, Reliability): a consistent copy of the
database and the photos while writes go on, brought back exactly, and refused when the
backup was changed."""
from __future__ import annotations

import hashlib
import io
import json
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image
from sqlalchemy.orm import Session

from app.ops import backup as backup_module
from app.extensions import db
from app.models import Job, Photo, Site, User
from app.models.types import utcnow
from app.storage import photo_storage
from tests.support import ApiClient


def photo_bytes(shade: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (shade, 255 - shade, 90)).save(out, "JPEG")
    return out.getvalue()


def upload(app, engineer: User, job: Job, shade: int) -> int:
    client = ApiClient(app.test_client()).use_token(engineer)
    response = client.post(f"jobs/{job.id}/photos", content_type="multipart/form-data",
                           data={"kind": "before", "file": (io.BytesIO(photo_bytes(shade)), "p.jpg")})
    assert response.status_code == 201, response.json
    return response.json["id"]


def everything() -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order."""
    db.session.commit()
    rows = {}
    for table in db.metadata.sorted_tables:
        query = sa.select(table).order_by(*table.primary_key.columns)
        rows[table.name] = [tuple(row) for row in db.session.execute(query)]
    db.session.commit()
    return rows


def photo_files(app) -> dict[str, str]:
    """Key -> SHA-256 of every file in the configured storage (disk or bucket)."""
    storage = photo_storage()
    return {key: hashlib.sha256(storage.read(key)).hexdigest() for key in storage.keys()}


def remove_photo_file(key: str) -> None:
    photo_storage().delete(key)


def run(runner, *args: str):
    # The command shares the test's app context and session: no transaction left open.
    db.session.commit()
    return runner.invoke(args=list(args))


@pytest.fixture
def seeded(app, org, factory):
    """Rows in most tables and two photos (six files)."""
    site = factory.site(name="Plant 7")
    job = factory.job(site=site, engineer=org["eng_a1"], title="Chiller alarm")
    factory.visit(job, status="flagged", flags=["LOW_ACCURACY"])
    db.session.commit()
    job_id = job.id
    upload(app, org["eng_a1"], job, 40)
    upload(app, org["eng_a1"], job, 200)
    return {"job_id": job_id, "site_id": site.id}


def test_round_trip_brings_every_row_and_photo_back(app, photo_backend, runner, seeded, org,
                                                    factory, tmp_path):
    before_rows, before_files = everything(), photo_files(app)
    assert len(before_files) == 6 and len(before_rows["photos"]) == 2

    result = run(runner, "backup", str(tmp_path / "backup"))
    assert result.exit_code == 0, result.output
    assert "6 photo files" in result.output
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert manifest["database"]["kind"] == db.engine.dialect.name
    assert manifest["counts"]["tables"]["photos"] == 2
    assert manifest["counts"]["tables"]["users"] == 7
    assert manifest["counts"]["photo_files"] == 6
    assert manifest["database"]["revision"]
    assert [f["path"].split("/")[0] for f in manifest["files"]] == (
        [manifest["database"]["file"]] + ["photos"] * 6)
    for entry in manifest["files"][1:]:
        key = entry["path"].removeprefix("photos/")
        assert entry["sha256"] == before_files[key]

    # Change, add and delete: a title, a new site, a new photo, a lost file, a deleted row.
    job = db.session.get(Job, seeded["job_id"])
    job.title = "Changed"
    factory.site(name="Added after the backup")
    db.session.commit()
    upload(app, org["eng_a1"], job, 120)
    first_photo = db.session.scalar(sa.select(Photo).order_by(Photo.id))
    remove_photo_file(first_photo.display_key)
    db.session.execute(sa.delete(Site).where(Site.name == "Added after the backup"))
    db.session.execute(sa.update(User).values(name="Renamed"))
    db.session.commit()
    assert everything() != before_rows and photo_files(app) != before_files

    refused = run(runner, "restore", str(tmp_path / "backup"))
    assert refused.exit_code == 1
    assert "not empty" in refused.output and "--yes" in refused.output
    assert db.session.get(Job, seeded["job_id"]).title == "Changed"  # nothing touched

    result = run(runner, "restore", str(tmp_path / "backup"), "--yes")
    assert result.exit_code == 0, result.output
    assert "6 photo files" in result.output
    assert everything() == before_rows
    assert photo_files(app) == before_files
    # The restored database takes new work: ids continue after the restored ones.
    new_site = factory.site(name="After the restore")
    db.session.commit()
    assert new_site.id > max(row[0] for row in before_rows["sites"])


def test_restore_into_an_empty_database_needs_no_confirmation(app, photo_backend, runner, seeded,
                                                             tmp_path):
    before_rows, before_files = everything(), photo_files(app)
    assert run(runner, "backup", str(tmp_path / "b")).exit_code == 0
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(sa.delete(table))
    db.session.commit()
    for key in list(photo_storage().keys()):
        remove_photo_file(key)

    result = run(runner, "restore", str(tmp_path / "b"))
    assert result.exit_code == 0, result.output
    assert everything() == before_rows and photo_files(app) == before_files


def test_backup_while_rows_are_written_is_consistent(app, runner, factory, tmp_path):
    """A writer commits a site and its job together, over and over, during the backup:
    the copy opens, holds whole pairs only, and its counts are the manifest's."""
    base = factory.site()
    db.session.add_all(Site(name=f"Old {i}", customer_name="C", address="A", lat=31.2,
                            lon=121.4, radius_m=150) for i in range(2000))
    db.session.commit()
    base_id = base.id
    engine = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"],
                              **app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}))
    stop, commits = threading.Event(), []
    errors: list[BaseException] = []

    def write() -> None:
        n = 0
        try:
            while not stop.is_set():
                with Session(engine) as session, session.begin():
                    site = Site(name=f"W {n}", customer_name="C", address="A", lat=31.2,
                                lon=121.4, radius_m=150)
                    session.add(site)
                    session.flush()
                    session.add(Job(site_id=site.id, title=f"W {n}", category="hvac",
                                    priority="normal", reported_at=utcnow() - timedelta(hours=1)))
                commits.append(time.monotonic())
                n += 1
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while len(commits) < 20 and writer.is_alive():
            time.sleep(0.01)
        started = time.monotonic()
        result = run(runner, "backup", str(tmp_path / "live"))
        ended = time.monotonic()
        while len([t for t in commits if t > ended]) < 5 and writer.is_alive():
            time.sleep(0.01)
    finally:
        stop.set()
        writer.join()
        engine.dispose()
    assert not errors, errors
    assert result.exit_code == 0, result.output
    during = [t for t in commits if started <= t <= ended]
    assert during, "the writer committed nothing while the backup ran"

    manifest = json.loads((tmp_path / "live" / "manifest.json").read_text())
    written_sites = manifest["counts"]["tables"]["sites"] - 2001
    assert written_sites == manifest["counts"]["tables"]["jobs"]
    assert 20 <= written_sites < len(commits)

    # The copy opens: restored, its rows are the manifest's counts (checked by restore)
    # and every job's site is there.
    result = run(runner, "restore", str(tmp_path / "live"), "--yes")
    assert result.exit_code == 0, result.output
    pairs = db.session.execute(
        sa.select(sa.func.count(Job.id), sa.func.count(Site.id))
        .select_from(Job).outerjoin(Site, Site.id == Job.site_id)).one()
    assert pairs == (written_sites, written_sites)
    assert db.session.scalar(sa.select(sa.func.count(Site.id)).where(Site.name.like("W %"))) \
        == written_sites
    names = set(db.session.scalars(sa.select(Site.name).where(Site.name.like("W %"))))
    assert names == {f"W {n}" for n in range(written_sites)}  # a prefix of the commits
    assert db.session.get(Site, base_id) is not None


# --- refused backups ----------------------------------------------------------------------


@pytest.fixture
def backed_up(app, runner, seeded, tmp_path) -> Path:
    path = tmp_path / "backup"
    result = run(runner, "backup", str(path))
    assert result.exit_code == 0, result.output
    db.session.execute(sa.update(Job).values(title="Kept"))
    db.session.commit()
    return path


def reseal(path: Path, change) -> None:
    """Change the manifest and give it a valid checksum again."""
    manifest = json.loads((path / "manifest.json").read_text())
    change(manifest)
    manifest["sha256"] = backup_module._manifest_digest(manifest)
    (path / "manifest.json").write_text(json.dumps(manifest))


def first_photo(path: Path) -> Path:
    return next(p for p in sorted((path / "photos").rglob("*")) if p.is_file())


def edit_counts(path: Path) -> None:
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["counts"]["tables"]["jobs"] += 1
    (path / "manifest.json").write_text(json.dumps(manifest))


def damage_database(path: Path) -> None:
    database = next(path.glob("database.*"))
    data = bytearray(database.read_bytes())
    data[len(data) // 2] ^= 0xFF
    database.write_bytes(bytes(data))


@pytest.mark.parametrize("damage, message", [
    (lambda p: (p / "manifest.json").write_text('{"format": 1, "files": ['), "manifest is damaged"),
    (lambda p: (p / "manifest.json").write_text("[]"), "damaged or of an unknown format"),
    (lambda p: (p / "manifest.json").unlink(), "not a backup"),
    (edit_counts, "does not match its own checksum"),
    (lambda p: reseal(p, lambda m: m.update(format=2)), "unknown format"),
    (lambda p: reseal(p, lambda m: m["files"][1].update(path="../../etc/passwd")),
     "unknown format"),
    (damage_database, "does not match its checksum"),
    (lambda p: first_photo(p).write_bytes(b"not the photo"), "does not match its checksum"),
    (lambda p: first_photo(p).unlink(), "listed in the manifest but missing"),
    (lambda p: (p / "photos" / "extra.jpg").write_bytes(b"x"), "not in its manifest"),
    (lambda p: reseal(p, lambda m: m["database"].update(
        kind="sqlite" if m["database"]["kind"] == "postgresql" else "postgresql")),
     "unknown format"),
], ids=["truncated-json", "not-an-object", "no-manifest", "edited-counts", "unknown-format",
        "path-escape", "database-changed", "photo-changed", "photo-missing", "extra-file",
        "other-kind"])
def test_a_changed_backup_is_refused_and_nothing_is_touched(app, runner, backed_up, damage,
                                                            message):
    files_before = photo_files(app)
    damage(backed_up)
    result = run(runner, "restore", str(backed_up), "--yes")
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert set(db.session.scalars(sa.select(Job.title))) == {"Kept"}
    assert photo_files(app) == files_before


def test_a_backup_of_the_other_database_kind_is_refused(app, runner, backed_up):
    kind = db.engine.dialect.name
    other = "postgresql" if kind == "sqlite" else "sqlite"

    def swap(manifest):
        manifest["database"].update(kind=other, file=backup_module.DATABASE_FILES[other])
        manifest["files"][0]["path"] = backup_module.DATABASE_FILES[other]

    reseal(backed_up, swap)
    next(backed_up.glob("database.*")).rename(backed_up / backup_module.DATABASE_FILES[other])
    result = run(runner, "restore", str(backed_up), "--yes")
    assert result.exit_code == 1
    assert f"This is a {other} backup; the configured database is {kind}" in result.output
    assert set(db.session.scalars(sa.select(Job.title))) == {"Kept"}


def test_backup_refuses_a_folder_that_is_not_empty_and_leaves_nothing_half_written(
        app, photo_backend, runner, seeded, tmp_path):
    target = tmp_path / "full"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    result = run(runner, "backup", str(target))
    assert result.exit_code == 1 and "not an empty folder" in result.output
    assert [p.name for p in target.iterdir()] == ["keep.txt"]

    # A photo file the database names has gone: no backup rather than an incomplete one.
    photo = db.session.scalar(sa.select(Photo).order_by(Photo.id))
    remove_photo_file(photo.thumb_key)
    result = run(runner, "backup", str(tmp_path / "incomplete"))
    assert result.exit_code == 1
    assert "1 photo files named in the database are missing" in result.output
    assert sorted(p.name for p in tmp_path.iterdir() if "incomplete" in p.name) == []

    # An empty folder is fine.
    (tmp_path / "empty").mkdir()
    photo_storage().put(photo.thumb_key, b"x")
    assert run(runner, "backup", str(tmp_path / "empty")).exit_code == 0
    assert (tmp_path / "empty" / "manifest.json").is_file()


def test_restore_refuses_a_bucket_that_holds_files_without_yes(app, s3_photos, runner, seeded,
                                                               tmp_path):
    assert run(runner, "backup", str(tmp_path / "b")).exit_code == 0
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(sa.delete(table))
    db.session.commit()
    photo_storage().put("zz/stranger.jpg", b"not from the backup")
    files = photo_files(app)
    refused = run(runner, "restore", str(tmp_path / "b"))
    assert refused.exit_code == 1
    assert f"the bucket {s3_photos} holds photo files; pass --yes" in refused.output
    assert photo_files(app) == files and everything()["jobs"] == []

    result = run(runner, "restore", str(tmp_path / "b"), "--yes")
    assert result.exit_code == 0, result.output
    assert "zz/stranger.jpg" not in photo_files(app) and len(photo_files(app)) == 6
