"""Photo files in an S3 bucket (workday.md, Beyond one machine) against a real S3 server
(SeaweedFS on loopback), and `flask photos-migrate` between the disk and the bucket."""
from __future__ import annotations

import hashlib
import io
import urllib.error
import urllib.request

import pytest
import sqlalchemy as sa
from PIL import Image

from app import create_app
from app import config
from app.extensions import db
from app.models import Photo
from app.storage import StorageError, photo_storage, storage_from_config
from app.storage.local import LocalStorage
from app.storage.s3 import S3Storage
from tests.support import ApiClient


@pytest.fixture
def bucket(seaweedfs):
    name = seaweedfs.bucket()
    yield name
    seaweedfs.drop(name)


@pytest.fixture
def s3(seaweedfs, bucket) -> S3Storage:
    return storage_from_config(seaweedfs.settings(bucket))


def test_whole_files_in_and_out(s3, seaweedfs, bucket):
    data = bytes(range(256)) * 12_000  # 3 MB: read back in several pieces
    s3.put("ab/one-original.jpg", data)
    s3.put("ab/two-thumb.jpg", b"thumb")
    assert s3.read("ab/one-original.jpg") == data
    assert s3.exists("ab/one-original.jpg") and not s3.exists("ab/none.jpg")
    assert sorted(s3.keys()) == ["ab/one-original.jpg", "ab/two-thumb.jpg"]
    with s3.open("ab/one-original.jpg") as stream:
        assert stream.size == len(data)
        first = stream.read(1 << 20)
        assert len(first) == 1 << 20 and first + stream.read() == data
    s3.delete("ab/one-original.jpg")
    s3.delete("ab/one-original.jpg")  # nothing there: not an error
    assert seaweedfs.keys(bucket) == ["ab/two-thumb.jpg"]
    with pytest.raises(FileNotFoundError):
        s3.read("ab/one-original.jpg")
    with pytest.raises(FileNotFoundError):
        s3.open("ab/one-original.jpg")


@pytest.mark.parametrize("key", ["../x.jpg", "a//b.jpg", "/a.jpg", "a\\b.jpg", "a/./b.jpg"])
def test_keys_that_could_leave_their_place_are_refused(s3, key):
    with pytest.raises(ValueError):
        s3.put(key, b"x")
    with pytest.raises(ValueError):
        s3.read(key)


def test_the_bucket_is_private(s3, seaweedfs, bucket):
    s3.put("ab/private.jpg", b"secret")
    for url in (f"{seaweedfs.endpoint}/{bucket}/ab/private.jpg", f"{seaweedfs.endpoint}/{bucket}"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url, timeout=10)
        assert refused.value.code == 403
        refused.value.close()


def test_wrong_keys_and_an_unreachable_server_are_storage_errors(seaweedfs, bucket):
    wrong = storage_from_config({**seaweedfs.settings(bucket), "S3_SECRET_ACCESS_KEY": "wrong"})
    with pytest.raises(StorageError):
        wrong.put("ab/x.jpg", b"x")
    assert seaweedfs.keys(bucket) == []
    gone = storage_from_config({**seaweedfs.settings(bucket),
                                "S3_ENDPOINT_URL": "http://127.0.0.1:9"})
    with pytest.raises(OSError):  # what the upload's clean-up catches
        gone.delete("ab/x.jpg")


@pytest.mark.parametrize("missing", ["S3_BUCKET", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"])
def test_the_app_does_not_start_without_its_s3_settings(seaweedfs, bucket, tmp_path, missing):
    settings = {**seaweedfs.settings(bucket), missing: ""}
    with pytest.raises(ValueError, match=missing):
        create_app(config.TestConfig(tmp_path, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/x.db",
                              **settings))


# --- photos-migrate -------------------------------------------------------------------------


def photo_bytes(shade: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (shade, 255 - shade, 90)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def on_disk(app, org, factory):
    """Two photos (six files) uploaded to the disk."""
    job = factory.job(engineer=org["eng_a1"])
    db.session.commit()
    client = ApiClient(app.test_client()).use_token(org["eng_a1"])
    for shade in (40, 200):
        response = client.post(f"jobs/{job.id}/photos", content_type="multipart/form-data",
                               data={"kind": "before",
                                     "file": (io.BytesIO(photo_bytes(shade)), "p.jpg")})
        assert response.status_code == 201, response.json
    db.session.commit()
    return job


def hashes(storage) -> dict[str, str]:
    return {key: hashlib.sha256(storage.read(key)).hexdigest() for key in storage.keys()}


def migrate(runner, *args: str):
    db.session.commit()
    return runner.invoke(args=["photos-migrate", *args])


def test_photos_go_to_s3_and_back_with_the_same_hashes(app, runner, on_disk, seaweedfs, bucket,
                                                        org, tmp_path):
    app.config.update({**seaweedfs.settings(bucket), "PHOTO_STORAGE": "local"})
    disk = LocalStorage(app.config["PHOTO_DIR"])
    s3 = storage_from_config(seaweedfs.settings(bucket))
    before = hashes(disk)
    assert len(before) == 6

    assert migrate(runner, "--from", "local", "--to", "s3", "--check").exit_code == 1
    assert seaweedfs.keys(bucket) == []  # a check writes nothing

    result = migrate(runner, "--from", "local", "--to", "s3")
    assert result.exit_code == 0, result.output
    assert "6 photo files: 6 copied, 0 already in s3" in result.output
    assert hashes(s3) == before

    again = migrate(runner, "--from", "local", "--to", "s3")
    assert again.exit_code == 0 and "0 copied, 6 already in s3" in again.output

    # The servers switch to the bucket: photos are served from it.
    app.config["PHOTO_STORAGE"] = "s3"
    app.extensions.pop("photo_storage", None)
    photo = db.session.scalar(sa.select(Photo).order_by(Photo.id))
    admin = ApiClient(app.test_client()).use_token(org["admin"])
    original = admin.get(f"photos/{photo.id}/original")
    assert original.status_code == 200
    assert hashlib.sha256(original.data).hexdigest() == photo.sha256

    # And back to an empty disk.
    back = LocalStorage(tmp_path / "photos-again")
    app.config["PHOTO_DIR"] = str(back.root)
    result = migrate(runner, "--from", "s3", "--to", "local")
    assert result.exit_code == 0, result.output
    assert hashes(back) == before
    assert migrate(runner, "--from", "s3", "--to", "local", "--check").exit_code == 0


def test_a_missing_or_damaged_source_file_is_reported_and_not_copied(
        app, runner, on_disk, seaweedfs, bucket):
    app.config.update({**seaweedfs.settings(bucket), "PHOTO_STORAGE": "local"})
    disk = LocalStorage(app.config["PHOTO_DIR"])
    first, second = db.session.scalars(sa.select(Photo).order_by(Photo.id)).all()
    disk.delete(first.thumb_key)
    disk.put(second.original_key, b"not the uploaded bytes")
    result = migrate(runner, "--from", "local", "--to", "s3")
    assert result.exit_code == 1
    assert f"missing from local: {first.thumb_key}" in result.output
    assert second.original_key in result.output and "uploaded bytes" in result.output
    assert "4 copied" in result.output
    assert second.original_key not in seaweedfs.keys(bucket)


def test_the_same_backend_twice_is_a_usage_error(app, runner):
    result = migrate(runner, "--from", "local", "--to", "local")
    assert result.exit_code == 2 and "same backend" in result.output


def test_photo_storage_is_the_configured_backend(app, s3_photos):
    assert isinstance(photo_storage(), S3Storage) and photo_storage().bucket == s3_photos


def test_an_unreachable_bucket_is_503_and_keeps_nothing(app, s3_photos, org, factory):
    job = factory.job(engineer=org["eng_a1"])
    db.session.commit()
    engineer = ApiClient(app.test_client()).use_token(org["eng_a1"])
    uploaded = engineer.post(f"jobs/{job.id}/photos", content_type="multipart/form-data",
                             data={"kind": "before", "file": (io.BytesIO(photo_bytes(90)), "p.jpg")})
    assert uploaded.status_code == 201
    app.config["S3_ENDPOINT_URL"] = "http://127.0.0.1:9"  # nothing listens there
    app.extensions.pop("photo_storage", None)
    refused = engineer.post(f"jobs/{job.id}/photos", content_type="multipart/form-data",
                            data={"kind": "before", "file": (io.BytesIO(photo_bytes(10)), "p.jpg")},
                            headers={"Idempotency-Key": "photo-while-s3-is-down"})
    assert refused.status_code == 503
    assert refused.json["code"] == "STORAGE_UNAVAILABLE" and refused.headers["Retry-After"] == "30"
    assert db.session.scalar(sa.select(sa.func.count(Photo.id))) == 1
    admin = ApiClient(app.test_client()).use_token(org["admin"])
    served = admin.get(f"photos/{uploaded.json['id']}/original")
    assert served.status_code == 503 and served.json["code"] == "STORAGE_UNAVAILABLE"
