"""Photo evidence (api.md Jobs → photos, Limits; verification.md Photo flags, What is kept)."""
from __future__ import annotations

import contextvars
import gc
import hashlib
import io
import warnings
import zlib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from geopy.distance import geodesic
from PIL import Image, ImageDraw
from PIL.PngImagePlugin import PngInfo
from werkzeug.datastructures import FileStorage
from werkzeug.test import EnvironBuilder, encode_multipart, run_wsgi_app

from app.extensions import db
from app.imaging import process_upload
from app.models import AuditEntry, Job, Photo, Visit
from app.models.types import utcnow
from app.services import photos as photo_service
from app.storage import photo_storage, transactional
from tests.api.test_app import assert_problem
from tests.support import ApiClient, statements_of

EXIF_IFD, GPS_IFD = 0x8769, 0x8825
SITE = (31.2304, 121.4737)  # the factory's site
MB = 1024 * 1024


# --- Test pictures ----------------------------------------------------------------------


def scene(size: tuple[int, int] = (800, 600), variant: int = 0) -> Image.Image:
    """A picture with broad structure; each variant is a clearly different picture."""
    w, h = size
    im = Image.merge("RGB", (
        Image.linear_gradient("L").resize(size),
        Image.radial_gradient("L").resize(size),
        Image.linear_gradient("L").rotate(90 * (variant % 4)).resize(size),
    ))
    draw = ImageDraw.Draw(im)
    x = 0.1 + 0.15 * (variant % 5)
    draw.ellipse((w * x, h * 0.2, w * (x + 0.3), h * 0.7), fill=(250, 30, 30))
    draw.rectangle((w * 0.65, h * 0.1 * (1 + variant % 3), w * 0.9, h * 0.5), fill=(10, 10, 120))
    return im


def encode(im: Image.Image, fmt: str = "JPEG", **params) -> bytes:
    out = io.BytesIO()
    im.save(out, fmt, **params)
    return out.getvalue()


def exif(taken: datetime | str | None = None, offset: str | None = None,
         gps: tuple[float, float] | None = None) -> Image.Exif:
    """EXIF written with Pillow's Exif API, as a camera would."""
    data = Image.Exif()
    data.get_ifd(EXIF_IFD)[0x010F] = "FieldProof test camera"
    if taken is not None:
        text = taken if isinstance(taken, str) else taken.strftime("%Y:%m:%d %H:%M:%S")
        data.get_ifd(EXIF_IFD)[0x9003] = text
    if offset is not None:
        data.get_ifd(EXIF_IFD)[0x9011] = offset
    if gps is not None:
        lat, lon = gps
        data.get_ifd(GPS_IFD).update({1: "N" if lat >= 0 else "S", 2: (abs(lat), 0.0, 0.0),
                                      3: "E" if lon >= 0 else "W", 4: (abs(lon), 0.0, 0.0)})
    return data


def photo_with(**fields) -> bytes:
    return encode(scene(), "JPEG", exif=exif(**fields))


def hashed(bits: int, note: str = "") -> bytes:
    """A 9x8 grey PNG whose difference hash is exactly `bits` (lossless, no resizing:
    each pixel is brighter than its left neighbour where the bit is set)."""
    im = Image.new("L", (9, 8))
    for row in range(8):
        value = 128
        im.putpixel((0, row), value)
        for col in range(8):
            value += 12 if bits >> (63 - 8 * row - col) & 1 else -12
            im.putpixel((col + 1, row), value)
    info = PngInfo()
    info.add_text("note", note)  # different bytes, same picture
    return encode(im, "PNG", pnginfo=info)


def point_at(metres: float, bearing: float = 90) -> tuple[float, float]:
    p = geodesic(meters=metres).destination(SITE, bearing)
    return p.latitude, p.longitude


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")


def png_header_only(width: int, height: int) -> bytes:
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", b"\x00" * 16)


def png_with_text_bomb() -> bytes:
    """A small valid PNG carrying a zTXt chunk that inflates to 64 MB."""
    raw = encode(scene((40, 30)), "PNG")
    bomb = png_chunk(b"zTXt", b"comment\x00\x00" + zlib.compress(b"\x00" * (64 * MB), 9))
    return raw[:33] + bomb + raw[33:]  # right after the IHDR chunk


JPEG = encode(scene(), "JPEG", quality=90)
SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
       b"<script>alert(1)</script></svg>")


# --- Helpers -----------------------------------------------------------------------------


def multipart(**fields) -> dict:
    """A multipart body as bytes (bytes values become file parts), for `client.post(**...)`.

    Encoded here rather than by the test client, which spools a large body to a
    temporary file it never closes."""
    boundary, body = encode_multipart({
        name: FileStorage(io.BytesIO(value[0]), value[1]) if isinstance(value, tuple) else value
        for name, value in fields.items()
    })
    return {"data": body, "content_type": f"multipart/form-data; boundary={boundary}"}


def upload(client: ApiClient, job_id: int, data: bytes | None = JPEG, kind: str | None = "before",
           filename: str = "IMG_0001.jpg", **kwargs):
    form: dict = {} if kind is None else {"kind": kind}
    if data is not None:
        form["file"] = (data, filename)
    return client.post(f"jobs/{job_id}/photos", **multipart(**form), **kwargs)


def stored_files(app) -> list[str]:
    """The key of every file under PHOTO_DIR, temporary ones included; with
    PHOTO_STORAGE=s3, of every object in the bucket."""
    if app.config["PHOTO_STORAGE"] == "s3":
        return sorted(photo_storage().keys())
    root = Path(app.config["PHOTO_DIR"])
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file()) if root.exists() else []


def photo_rows() -> list[Photo]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Photo).order_by(Photo.id)))


def visit_row(visit_id: int) -> Visit:
    db.session.expire_all()
    return db.session.get(Visit, visit_id)


def assert_nothing_kept(app) -> None:
    assert photo_rows() == []
    assert stored_files(app) == []


@pytest.fixture
def job(factory, org):
    made = factory.job(engineer=org["eng_a1"], created_by=org["sup_a"])
    db.session.commit()
    return made


@pytest.fixture
def eng(client, org):
    client.login(org["eng_a1"])
    return client


def as_user(app, user) -> ApiClient:
    client = ApiClient(app.test_client())
    client.login(user)
    return client


# --- Accepted uploads --------------------------------------------------------------------


def heic() -> bytes:
    return encode(scene(), "HEIF", exif=exif().tobytes())


@pytest.mark.parametrize("make, content_type", [
    (lambda: JPEG, "image/jpeg"),
    (lambda: encode(scene(), "PNG"), "image/png"),
    (lambda: encode(scene(), "WEBP"), "image/webp"),
    (heic, "image/heic"),
], ids=["jpeg", "png", "webp", "heic"])
def test_each_accepted_type_is_kept_with_its_copies(app, photo_backend, eng, job, org, make,
                                                    content_type):
    data = make()
    response = upload(eng, job.id, data, kind="after", filename="upload.bin")
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.json
    assert set(body) == {"id", "job_id", "visit_id", "kind", "sha256", "width", "height",
                         "taken_at", "gps", "flags", "thumb_url", "image_url", "created_at"}
    assert body["job_id"] == job.id and body["kind"] == "after" and body["visit_id"] is None
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert (body["width"], body["height"]) == (800, 600)
    assert body["flags"] == [] and body["gps"] is None
    assert body["thumb_url"] == f"/api/v1/photos/{body['id']}/thumb"
    assert body["image_url"] == f"/api/v1/photos/{body['id']}/image"
    assert response.headers["Location"].endswith(body["image_url"])
    assert body["created_at"].endswith("Z")

    (photo,) = photo_rows()
    assert photo.content_type == content_type and photo.size_bytes == len(data)
    assert photo.uploaded_by_id == org["eng_a1"].id
    # Three files under generated names, none named after the client's file.
    files = stored_files(app)
    assert len(files) == 3 and not any("upload" in key for key in files)
    assert {photo.original_key, photo.display_key, photo.thumb_key} == set(files)

    admin = as_user(app, org["admin"])
    original = admin.get(f"photos/{photo.id}/original")
    assert original.status_code == 200
    assert original.data == data and original.mimetype == content_type


def test_taken_at_with_offset_time_original_is_stored_in_utc(app, eng, job):
    data = photo_with(taken="2026:11:03 16:15:00", offset="+08:00")
    body = upload(eng, job.id, data).json
    assert body["taken_at"] == "2026-11-03T08:15:00Z"
    assert photo_rows()[0].taken_at == datetime(2026, 11, 3, 8, 15, tzinfo=UTC)


@pytest.mark.config(TIMEZONE="Asia/Shanghai")
def test_taken_at_without_offset_is_read_in_the_organisations_timezone(app, eng, job):
    body = upload(eng, job.id, photo_with(taken="2026:11:03 16:15:00")).json
    assert body["taken_at"] == "2026-11-03T08:15:00Z"


def test_taken_at_without_offset_defaults_to_utc(app, eng, job):
    body = upload(eng, job.id, photo_with(taken="2026:11:03 16:15:00")).json
    assert body["taken_at"] == "2026-11-03T16:15:00Z"


def test_gps_is_read_and_returned(app, eng, job):
    lat, lon = point_at(100)
    body = upload(eng, job.id, photo_with(gps=(lat, lon))).json
    assert body["gps"]["lat"] == pytest.approx(lat, abs=1e-7)
    assert body["gps"]["lon"] == pytest.approx(lon, abs=1e-7)
    photo = photo_rows()[0]
    assert (photo.gps_lat, photo.gps_lon) == (body["gps"]["lat"], body["gps"]["lon"])
    assert body["flags"] == []


def test_southern_and_western_positions_are_negative(app, eng, factory, org):
    job = factory.job(site=factory.site(lat=-33.8568, lon=-70.6483), engineer=org["eng_a1"])
    body = upload(eng, job.id, photo_with(gps=(-33.8568, -70.6483))).json
    assert body["gps"]["lat"] < 0 and body["gps"]["lon"] < 0 and body["flags"] == []


def test_no_exif_stores_no_time_and_no_position(app, eng, job):
    body = upload(eng, job.id, encode(scene(), "PNG")).json
    assert body["taken_at"] is None and body["gps"] is None and body["flags"] == []


@pytest.mark.parametrize("taken, offset", [("0001:01:01 00:00:00", "+05:00"),
                                            ("9999:12:31 23:59:59", "-05:00")])
def test_exif_time_at_the_ends_of_the_calendar_is_ignored(app, eng, job, taken, offset):
    response = upload(eng, job.id, photo_with(taken=taken, offset=offset))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.json["taken_at"] is None and response.json["flags"] == []
    assert photo_rows()[0].taken_at is None


def test_dhash_is_stored_signed_and_read_back_unsigned(app, eng, job):
    data = hashed(0xF0F0_F0F0_F0F0_F0F0)  # top bit set: negative as a signed BIGINT
    assert process_upload(data).info.dhash == 0xF0F0_F0F0_F0F0_F0F0
    upload(eng, job.id, data)
    photo = photo_rows()[0]
    assert photo.dhash == 0xF0F0_F0F0_F0F0_F0F0 - 2**64
    assert photo_service.dhash_column(photo.dhash, to_db=False) == 0xF0F0_F0F0_F0F0_F0F0
    bands = [photo.dhash_band0, photo.dhash_band1, photo.dhash_band2, photo.dhash_band3]
    assert bands == [0xF0F0] * 4


def test_upload_is_audited_with_its_evidence_id(app, eng, job, org):
    body = upload(eng, job.id).json
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "photo.upload"))
    assert (entry.actor_id, entry.target_type, entry.target_id) == (
        org["eng_a1"].id, "photo", body["id"])
    assert entry.detail["sha256"] == body["sha256"] and entry.detail["job_id"] == job.id


def test_a_replayed_upload_with_the_same_idempotency_key_keeps_one_photo(app, eng, job):
    first = upload(eng, job.id, headers={"Idempotency-Key": "7f1e2a"})
    again = upload(eng, job.id, headers={"Idempotency-Key": "7f1e2a"})
    assert first.status_code == again.status_code == 201
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert len(photo_rows()) == 1 and len(stored_files(app)) == 3


# --- Refused uploads: status, code, and nothing kept --------------------------------------


@pytest.mark.parametrize("data", [
    SVG,
    b"just some text, named photo.jpg",
    b"%PDF-1.7\n1 0 obj <<>> endobj\n",
    encode(scene((40, 30)), "GIF"),
    encode(scene((40, 30)), "BMP"),
    encode(scene((40, 30)), "TIFF"),
    b"",
], ids=["svg", "text", "pdf", "gif", "bmp", "tiff", "empty"])
def test_unsupported_content_is_415_whatever_its_name(app, eng, job, data):
    response = upload(eng, job.id, data, filename="photo.jpg")
    assert_problem(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert_nothing_kept(app)


def test_more_than_40_megapixels_is_refused_before_decoding(app, eng, job):
    # 8000 x 5001 = 40.008 MP with nonsense pixel data: only the header was read.
    response = upload(eng, job.id, png_header_only(8000, 5001))
    body = assert_problem(response, 422, "IMAGE_TOO_LARGE")
    assert "file" in body["errors"]
    assert_nothing_kept(app)


def test_exactly_40_megapixels_passes_the_pixel_limit(app, eng, job):
    # 8000 x 5000 is allowed, so the nonsense pixel data is decoded and found invalid.
    assert_problem(upload(eng, job.id, png_header_only(8000, 5000)), 422, "IMAGE_INVALID")
    assert_nothing_kept(app)


@pytest.mark.parametrize("data", [
    JPEG[: len(JPEG) // 2],
    encode(scene(), "PNG")[:5000],
    png_header_only(100, 100),
    png_with_text_bomb(),
], ids=["truncated-jpeg", "truncated-png", "corrupt-png", "text-bomb"])
def test_broken_images_and_bombs_are_invalid(app, eng, job, data):
    assert_problem(upload(eng, job.id, data), 422, "IMAGE_INVALID")
    assert_nothing_kept(app)


def test_body_over_25_mb_is_413(app, eng, job):
    response = upload(eng, job.id, b"\xff\xd8\xff" + b"\x00" * (25 * MB))
    assert_problem(response, 413, "PAYLOAD_TOO_LARGE")
    assert_nothing_kept(app)


def test_chunked_body_over_25_mb_without_content_length_is_413(app, org, job):
    client = ApiClient(app.test_client()).use_token(org["eng_a1"])
    body = multipart(kind="before", file=(b"\xff\xd8\xff" + b"\x00" * (26 * MB), "big.jpg"))
    environ = EnvironBuilder(
        path=f"/api/v1/jobs/{job.id}/photos", method="POST", input_stream=io.BytesIO(body["data"]),
        content_type=body["content_type"],
        headers={"Authorization": f"Bearer {client.token}", "Transfer-Encoding": "chunked"},
    ).get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ["wsgi.input_terminated"] = True  # a server that de-chunks, as gunicorn does
    # Werkzeug's multipart parser drops the spooled temporary file of the part it was
    # reading when the limit stops it. That file is anonymous (unlinked when made), so
    # nothing is left on disk; it is closed when collected, which Python reports.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        app_iter, status, headers = contextvars.Context().run(run_wsgi_app, app, environ, True)
        gc.collect()
    assert status.startswith("413")
    assert b"PAYLOAD_TOO_LARGE" in b"".join(app_iter)
    assert_nothing_kept(app)


def test_a_json_body_is_415(app, eng, job):
    response = eng.post(f"jobs/{job.id}/photos", json={"kind": "before", "file": "aGVsbG8="})
    assert_problem(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert_nothing_kept(app)


@pytest.mark.parametrize("kind, data, field", [
    (None, JPEG, "kind"),
    ("selfie", JPEG, "kind"),
    ("", JPEG, "kind"),
    ("before", None, "file"),
], ids=["no-kind", "bad-kind", "empty-kind", "no-file"])
def test_missing_or_bad_fields_are_422(app, eng, job, kind, data, field):
    body = assert_problem(upload(eng, job.id, data, kind=kind), 422, "VALIDATION_ERROR")
    assert list(body["errors"]) == [field]
    assert_nothing_kept(app)


def test_a_text_field_named_file_is_not_a_file(app, eng, job):
    response = eng.post(f"jobs/{job.id}/photos", **multipart(kind="before", file="not a file"))
    body = assert_problem(response, 422, "VALIDATION_ERROR")
    assert "file" in body["errors"]


def test_an_empty_file_input_counts_as_missing(app, eng, job):
    body = assert_problem(upload(eng, job.id, b"", filename=""), 422, "VALIDATION_ERROR")
    assert body["errors"] == {"file": ["Missing data for required field."]}


def test_unknown_form_fields_are_refused(app, eng, job):
    response = eng.post(f"jobs/{job.id}/photos",
                        **multipart(kind="before", file=(JPEG, "a.jpg"), uploaded_by_id="1"))
    body = assert_problem(response, 422, "VALIDATION_ERROR")
    assert "uploaded_by_id" in body["errors"]
    assert_nothing_kept(app)


@pytest.mark.parametrize("status", ["closed", "cancelled"])
def test_closed_or_cancelled_job_is_409(app, eng, factory, org, status):
    job = factory.job(engineer=org["eng_a1"], status=status)
    assert_problem(upload(eng, job.id), 409, "JOB_CLOSED")
    assert_nothing_kept(app)


@pytest.mark.parametrize("who", ["eng_a2", "eng_b1", "loner"])
def test_another_engineers_job_is_404(app, job, org, who):
    assert_problem(upload(as_user(app, org[who]), job.id), 404, "NOT_FOUND")
    assert_nothing_kept(app)


def test_an_unassigned_job_is_404_to_engineers(app, eng, factory):
    assert_problem(upload(eng, factory.job().id), 404, "NOT_FOUND")


def test_supervisors_and_admins_do_not_upload(app, job, org):
    for who in ("sup_a", "admin"):
        assert_problem(upload(as_user(app, org[who]), job.id), 403, "FORBIDDEN")
    assert_nothing_kept(app)


# --- Rows and files together ---------------------------------------------------------------


def _refuse_commit(error: Exception):
    def refuse(session):
        if session.info.get(transactional.WRITTEN):
            raise error
    return refuse


@pytest.mark.parametrize("error, status, code", [
    (RuntimeError("disk full"), 500, "INTERNAL_ERROR"),
    (sa.exc.IntegrityError("INSERT", {}, Exception("duplicate")), 409, "CONFLICT"),
], ids=["crash", "integrity"])
def test_files_are_deleted_when_the_commit_fails(app, photo_backend, eng, job, error, status,
                                                code):
    refuse = _refuse_commit(error)
    sa.event.listen(db.session, "before_commit", refuse)
    try:
        response = upload(eng, job.id)
    finally:
        sa.event.remove(db.session, "before_commit", refuse)
    assert_problem(response, status, code)
    assert_nothing_kept(app)
    # The next upload works and keeps its three files.
    assert upload(eng, job.id).status_code == 201
    assert len(photo_rows()) == 1 and len(stored_files(app)) == 3


def test_files_of_a_transaction_closed_unfinished_are_deleted(app, photo_backend):
    processed = process_upload(JPEG)
    with app.test_request_context():
        db.session.execute(sa.select(1))
        keys = photo_service._store_files(
            transactional.TransactionalStorage(photo_storage(), db.session),
            photo_service._new_stem(), processed)
        assert len(stored_files(app)) == 2
        db.session.close()
        assert stored_files(app) == []
        db.session.execute(sa.select(1))
        keys = photo_service._store_files(
            transactional.TransactionalStorage(photo_storage(), db.session),
            photo_service._new_stem(), processed)
        db.session.commit()
        db.session.close()
    assert len(stored_files(app)) == 2
    assert set(keys.values()) == set(stored_files(app))


@pytest.mark.parametrize("failing", [1, 2, 3], ids=["original", "display", "thumbnail"])
def test_a_failed_write_leaves_no_file(app, photo_backend, eng, job, monkeypatch, failing):
    backend = type(photo_storage())
    real_put = backend.put
    calls = []

    def put_then_fail(self, key, data):
        calls.append(key)
        if len(calls) == failing:
            raise OSError("No space left on device")
        real_put(self, key, data)

    monkeypatch.setattr(backend, "put", put_then_fail)
    assert_problem(upload(eng, job.id), 500, "INTERNAL_ERROR")
    assert calls[0].endswith("-original.jpg")
    assert_nothing_kept(app)


def test_the_original_is_written_while_the_image_is_decoded(app, eng, job, monkeypatch):
    """The original's write runs beside the image work: the decoding waits here until
    the write has begun, which never happens when the file is written after it."""
    import threading

    from app.storage.local import LocalStorage

    writing, real_put = threading.Event(), LocalStorage.put
    real_process = photo_service.process_upload

    def put(self, key, data):
        if key.endswith("-original.jpg"):
            writing.set()
        real_put(self, key, data)

    def process(data):
        assert writing.wait(5), "the original was not being written during the image work"
        return real_process(data)

    monkeypatch.setattr(LocalStorage, "put", put)
    monkeypatch.setattr(photo_service, "process_upload", process)
    response = upload(eng, job.id)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert len(stored_files(app)) == 3 and len(photo_rows()) == 1


def test_a_job_closed_during_the_image_work_keeps_no_file(app, photo_backend, eng, job,
                                                         monkeypatch):
    # The job is closed by another request while the pixels are decoded (and the
    # original written): the upload is refused and its original goes with the rollback.
    real_process, job_id = photo_service.process_upload, job.id

    def process(data):
        processed = real_process(data)
        with db.engine.begin() as conn:
            conn.execute(sa.update(Job).where(Job.id == job_id).values(status="closed"))
        return processed

    monkeypatch.setattr(photo_service, "process_upload", process)
    assert_problem(upload(eng, job_id), 409, "JOB_CLOSED")
    assert_nothing_kept(app)


def test_content_of_another_type_writes_no_file_at_all(app, eng, job, monkeypatch):
    from app.storage.local import LocalStorage

    puts = []
    monkeypatch.setattr(LocalStorage, "put", lambda self, key, data: puts.append(key))
    assert_problem(upload(eng, job.id, b"GIF89a" + b"\x00" * 100, filename="x.jpg"), 415,
                   "UNSUPPORTED_MEDIA_TYPE")
    assert puts == []


def test_a_refused_image_takes_its_original_away(app, photo_backend, eng, job):
    # A JPEG's signature with nothing decodable behind it: the original is being
    # written when the decoder refuses it.
    assert_problem(upload(eng, job.id, b"\xff\xd8\xff\xe0" + b"\x00" * 5000), 422, "IMAGE_INVALID")
    assert_nothing_kept(app)


# --- Visits --------------------------------------------------------------------------------


def test_photo_is_tied_to_the_engineers_open_visit_and_flags_it(app, eng, job, factory):
    visit = factory.visit(job, minutes=None, status="verified")
    body = upload(eng, job.id, photo_with(gps=point_at(2000))).json
    assert body["visit_id"] == visit.id
    assert body["flags"] == ["PHOTO_LOCATION_MISMATCH"]
    assert visit_row(visit.id).flags == ["PHOTO_LOCATION_MISMATCH"]
    assert visit_row(visit.id).status == "flagged"


def test_another_engineers_open_visit_is_not_the_photos(app, eng, job, factory, org):
    factory.visit(job, engineer=org["eng_a2"], minutes=None)
    assert upload(eng, job.id).json["visit_id"] is None


@pytest.mark.parametrize("status, after", [
    ("verified", "flagged"), ("approved", "flagged"), ("flagged", "flagged"),
    ("rejected", "rejected"), ("disputed", "disputed"),
])
def test_a_flag_goes_to_the_jobs_latest_visit_and_reopens_a_passed_one(
        app, eng, job, factory, status, after):
    earlier = factory.visit(job, at=utcnow() - timedelta(hours=5), status="verified")
    latest = factory.visit(job, at=utcnow() - timedelta(hours=2), status=status,
                           flags=["SHORT_VISIT"])
    body = upload(eng, job.id, photo_with(gps=point_at(2000))).json
    assert body["visit_id"] is None  # no visit open: tied to none, flagged on the latest
    assert visit_row(latest.id).flags == ["SHORT_VISIT", "PHOTO_LOCATION_MISMATCH"]
    assert visit_row(latest.id).status == after
    assert visit_row(earlier.id).flags == [] and visit_row(earlier.id).status == "verified"


def test_a_clean_photo_leaves_the_visit_alone(app, eng, job, factory):
    visit = factory.visit(job, status="verified")
    assert upload(eng, job.id).json["flags"] == []
    assert visit_row(visit.id).status == "verified" and visit_row(visit.id).flags == []


# --- Photo flags at and just past their thresholds ---------------------------------------


@pytest.mark.parametrize("metres, flagged", [(0, False), (499.5, False), (500.5, True)])
def test_location_mismatch_past_500_m(app, eng, job, metres, flagged):
    body = upload(eng, job.id, photo_with(gps=point_at(metres, bearing=37))).json
    assert body["flags"] == (["PHOTO_LOCATION_MISMATCH"] if flagged else [])


@pytest.mark.config(PHOTO_MAX_DISTANCE_M=50)
def test_location_threshold_is_configurable(app, eng, job):
    assert upload(eng, job.id, photo_with(gps=point_at(60))).json["flags"] == [
        "PHOTO_LOCATION_MISMATCH"]


@pytest.mark.parametrize("seconds, flagged", [
    (-7201, True), (-7200, False), (0, False), (3600, False), (3600 + 7200, False),
    (3600 + 7201, True),
])
def test_time_mismatch_against_the_visits_window(app, eng, job, factory, seconds, flagged):
    start = utcnow().replace(microsecond=0) - timedelta(hours=6)
    factory.visit(job, at=start, minutes=30)
    factory.visit(job, at=start + timedelta(minutes=40), minutes=20)  # last check-out: +1 h
    taken = start + timedelta(seconds=seconds)
    body = upload(eng, job.id, photo_with(taken=taken, offset="+00:00")).json
    assert body["flags"] == (["PHOTO_TIME_MISMATCH"] if flagged else [])


def test_an_open_visit_stretches_the_window_to_the_upload(app, eng, job, factory, monkeypatch):
    now = utcnow().replace(microsecond=0)
    monkeypatch.setattr(photo_service, "utcnow", lambda: now)
    factory.visit(job, at=now - timedelta(hours=10), minutes=None)
    inside = upload(eng, job.id, photo_with(taken=now + timedelta(seconds=7200), offset="+00:00"))
    past = upload(eng, job.id, photo_with(taken=now + timedelta(seconds=7201), offset="+00:00"))
    assert inside.json["flags"] == [] and past.json["flags"] == ["PHOTO_TIME_MISMATCH"]


@pytest.mark.parametrize("seconds, flagged", [
    (-7201, True), (-7200, False), (7200, False), (7201, True),
])
def test_time_mismatch_without_visits_is_against_the_upload(app, eng, job, monkeypatch,
                                                            seconds, flagged):
    now = utcnow().replace(microsecond=0)
    monkeypatch.setattr(photo_service, "utcnow", lambda: now)
    # Taken in Shanghai's wall-clock time with its offset: compared as an instant.
    local = (now + timedelta(seconds=seconds)).astimezone(timezone(timedelta(hours=8)))
    body = upload(eng, job.id, photo_with(taken=local, offset="+08:00")).json
    assert body["flags"] == (["PHOTO_TIME_MISMATCH"] if flagged else [])
    assert body["created_at"] == now.strftime("%Y-%m-%dT%H:%M:%SZ")


SIX_BITS = (1 << 0) | (1 << 8) | (1 << 17) | (1 << 34) | (1 << 51) | (1 << 60)  # all bands
SIX_IN_ONE_BAND = 0b111111 << 40
SEVEN_BITS = SIX_BITS | (1 << 25)
BASE = 0x9A3C_5F01_E7D2_4B86


@pytest.fixture
def other_job(factory, org):
    return factory.job(engineer=org["eng_a1"])


@pytest.mark.parametrize("difference, flagged", [
    (0, True), (SIX_BITS, True), (SIX_IN_ONE_BAND, True), (SEVEN_BITS, False),
], ids=["same-hash", "6-bits-spread", "6-bits-one-band", "7-bits"])
def test_duplicate_by_difference_hash_within_6_bits(app, eng, job, other_job, difference, flagged):
    assert upload(eng, job.id, hashed(BASE, "first")).json["flags"] == []
    body = upload(eng, other_job.id, hashed(BASE ^ difference, "second")).json
    assert body["flags"] == (["DUPLICATE_PHOTO"] if flagged else [])


@pytest.mark.config(PHOTO_DHASH_MAX_DISTANCE=7)
def test_dhash_distance_is_configurable(app, eng, job, other_job):
    upload(eng, job.id, hashed(BASE, "first"))
    assert upload(eng, other_job.id, hashed(BASE ^ SEVEN_BITS)).json["flags"] == ["DUPLICATE_PHOTO"]


@pytest.mark.config(PHOTO_DHASH_MAX_DISTANCE=20)
def test_a_distance_too_loose_for_the_bands_still_finds_duplicates(app, eng, job, other_job):
    upload(eng, job.id, hashed(BASE, "first"))
    far = BASE ^ ((1 << 20) - 1)  # 20 bits, all in the two lowest bands
    assert upload(eng, other_job.id, hashed(far)).json["flags"] == ["DUPLICATE_PHOTO"]
    assert upload(eng, other_job.id, hashed(BASE ^ ((1 << 21) - 1))).json["flags"] == []


def test_the_same_bytes_on_another_job_is_a_duplicate(app, eng, job, other_job, org, factory):
    upload(eng, job.id)
    # Another engineer's job, too: reuse is reuse, whoever took the picture.
    third = factory.job(engineer=org["eng_b1"])
    assert upload(eng, other_job.id).json["flags"] == ["DUPLICATE_PHOTO"]
    assert upload(as_user(app, org["eng_b1"]), third.id).json["flags"] == ["DUPLICATE_PHOTO"]


def test_the_same_photo_twice_on_its_own_job_is_not_a_duplicate(app, eng, job):
    assert upload(eng, job.id, kind="before").json["flags"] == []
    assert upload(eng, job.id, kind="after").json["flags"] == []


def test_a_re_encoded_copy_on_another_job_is_a_duplicate(app, eng, job, other_job):
    upload(eng, job.id, encode(scene(), "JPEG", quality=95))
    copy = encode(scene().resize((1200, 900)), "WEBP", quality=60)
    assert upload(eng, other_job.id, copy).json["flags"] == ["DUPLICATE_PHOTO"]


def test_a_different_picture_is_not_a_duplicate(app, eng, job, other_job):
    upload(eng, job.id, encode(scene(variant=0)))
    assert upload(eng, other_job.id, encode(scene(variant=1))).json["flags"] == []


def test_every_flag_at_once_in_order(app, eng, job, other_job):
    upload(eng, job.id)
    data = encode(scene(), "JPEG", exif=exif(taken="2020:01:01 00:00:00", offset="+00:00",
                                             gps=point_at(5000)))
    assert upload(eng, other_job.id, data).json["flags"] == [
        "DUPLICATE_PHOTO", "PHOTO_LOCATION_MISMATCH", "PHOTO_TIME_MISMATCH"]
    assert photo_rows()[-1].flags == [
        "DUPLICATE_PHOTO", "PHOTO_LOCATION_MISMATCH", "PHOTO_TIME_MISMATCH"]


# --- Reading -------------------------------------------------------------------------------


def test_list_is_the_jobs_photos_newest_first(app, eng, job, other_job, org):
    ids = [upload(eng, job.id, encode(scene(variant=i))).json["id"] for i in range(3)][::-1]
    upload(eng, other_job.id)
    for who in ("eng_a1", "sup_a", "admin"):
        page = as_user(app, org[who]).get(f"jobs/{job.id}/photos").json
        assert [item["id"] for item in page["items"]] == ids
        assert (page["page"], page["per_page"], page["total"]) == (1, 50, 3)
    second = eng.get(f"jobs/{job.id}/photos?per_page=2&page=2").json
    assert [item["id"] for item in second["items"]] == ids[2:]
    assert_problem(eng.get(f"jobs/{job.id}/photos?per_page=201"), 422, "VALIDATION_ERROR")


@pytest.mark.parametrize("who", ["eng_a2", "eng_b1", "sup_b", "loner"])
def test_photos_outside_scope_are_404(app, eng, job, org, who):
    photo_id = upload(eng, job.id).json["id"]
    client = as_user(app, org[who])
    for path in (f"jobs/{job.id}/photos", f"photos/{photo_id}/thumb", f"photos/{photo_id}/image"):
        assert_problem(client.get(path), 404, "NOT_FOUND")
    if org[who].role == "supervisor":
        assert_problem(client.get(f"photos/{photo_id}/original"), 404, "NOT_FOUND")


def test_unknown_photo_or_job_is_404(app, eng, org):
    assert_problem(eng.get("jobs/999/photos"), 404, "NOT_FOUND")
    assert_problem(eng.get("photos/999/thumb"), 404, "NOT_FOUND")
    admin = as_user(app, org["admin"])
    assert_problem(admin.get("photos/999/original"), 404, "NOT_FOUND")


def test_thumbnail_and_display_copy_are_stripped_jpegs(app, photo_backend, eng, job):
    data = encode(scene((4000, 3000)), "JPEG", exif=exif(taken="2026:11:03 08:15:00",
                                                         gps=point_at(10)))
    photo_id = upload(eng, job.id, data).json["id"]
    for path, long_edge in ((f"photos/{photo_id}/thumb", 320), (f"photos/{photo_id}/image", 1600)):
        response = eng.get(path)
        assert response.status_code == 200 and response.mimetype == "image/jpeg"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Disposition"].startswith("inline")
        assert "private" in response.headers["Cache-Control"]
        assert "public" not in response.headers["Cache-Control"]
        image = Image.open(io.BytesIO(response.data))
        assert max(image.size) == long_edge and not image.getexif()
        assert b"Exif" not in response.data
        # Unchanged since the browser's copy: 304 without the bytes.
        again = eng.get(path, headers={"If-None-Match": response.headers["ETag"]})
        assert again.status_code == 304 and again.data == b""


def test_original_is_for_the_supervisor_and_admins_as_an_attachment(app, photo_backend, eng,
                                                                     job, org):
    data = photo_with(taken="2026:11:03 08:15:00", gps=point_at(10))
    photo_id = upload(eng, job.id, data).json["id"]
    for who in ("sup_a", "admin"):
        response = as_user(app, org[who]).get(f"photos/{photo_id}/original")
        assert response.status_code == 200 and response.data == data
        assert response.mimetype == "image/jpeg"
        assert response.headers["Content-Disposition"] == (
            f"attachment; filename=photo-{photo_id}.jpg")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "private" in response.headers["Cache-Control"]
    for who in ("eng_a1", "eng_a2", "eng_b1"):
        assert_problem(as_user(app, org[who]).get(f"photos/{photo_id}/original"), 403, "FORBIDDEN")


def test_signed_out_callers_get_401(app, client, job):
    assert_problem(client.get(f"jobs/{job.id}/photos"), 401, "UNAUTHORIZED")
    assert_problem(upload(client, job.id), 401, "UNAUTHORIZED")
    assert_nothing_kept(app)


def test_cookie_upload_without_csrf_is_403(app, eng, job):
    response = eng.open("POST", f"jobs/{job.id}/photos", csrf=False,
                        **multipart(kind="before", file=(JPEG, "a.jpg")))
    assert_problem(response, 403, "CSRF_FAILED")
    assert_nothing_kept(app)


def test_the_upload_is_documented_as_multipart(app, client):
    spec = client.get("/api/v1/openapi.json").json
    operation = spec["paths"]["/api/v1/jobs/{job_id}/photos"]["post"]
    ref = operation["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
    schema = spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert schema["required"] == ["file", "kind"]
    assert schema["properties"]["file"]["format"] == "binary"


def test_a_jobs_photo_list_costs_the_same_statements_for_1_and_6_photos(client, org, job):
    from tests.api.matrix.jobs import add_photo

    client.use_token(org["eng_a1"])
    add_photo(job)
    db.session.commit()
    client.get(f"jobs/{job.id}/photos")  # the token's first use is recorded once
    one, page = statements_of(client, f"jobs/{job.id}/photos")
    assert len(page["items"]) == 1
    for kind in ("before", "after", "other", "before", "after"):
        add_photo(job, kind)
    db.session.commit()
    six, page = statements_of(client, f"jobs/{job.id}/photos")
    assert len(page["items"]) == 6
    assert one == six
