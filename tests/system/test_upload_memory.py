"""Twenty 12-megapixel photos uploaded at once to one gunicorn worker (quality.md, Speed
and scale; Reliability): the worker's peak memory stays bounded, every upload is stored
or cleanly refused, and no temporary file is left behind."""
from __future__ import annotations

import io
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from app.extensions import db
from app.models import Photo
from app.services import audit
from tests.system.conftest import Response, Server, tokens_for

UPLOADS = 20
PEAK_GROWTH_LIMIT_MB = 600
MB = 1024 * 1024


def twelve_megapixels() -> bytes:
    """A 4000×3000 photo-like JPEG (gradients and noise) with an EXIF time."""
    base = Image.linear_gradient("L").resize((4000, 3000))
    noise = Image.effect_noise((4000, 3000), 40)
    image = Image.merge("RGB", (base, noise, Image.blend(base, noise, 0.5)))
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = datetime.now(UTC).strftime("%Y:%m:%d %H:%M:%S")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def variant(jpeg: bytes, n: int) -> bytes:
    """The same picture with a JPEG comment segment of its own: other bytes, same pixels."""
    comment = f"upload {n}".encode()
    return jpeg[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + jpeg[2:]


def multipart(data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\nafter\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.jpg\"\r\n"
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak resident set) of a process, in kB, from /proc."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0])
    return values


def upload(server: Server, token: str, job_id: int, data: bytes) -> Response:
    body, content_type = multipart(data)
    return server.request("POST", f"jobs/{job_id}/photos", token, body=body,
                          headers={"Content-Type": content_type}, timeout=180)


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_twenty_large_uploads_at_once_stay_within_bounded_memory(request, serve, org, factory,
                                                                  backend):
    engineer = org["eng_a1"]
    jobs = [factory.job(engineer=engineer).id for _ in range(UPLOADS + 1)]
    token = tokens_for([engineer])[engineer.id]
    photo = twelve_megapixels()
    assert 3 * MB < len(photo) < 25 * MB
    settings = {}
    if backend == "s3":
        s3 = request.getfixturevalue("seaweedfs")
        bucket = s3.bucket()
        request.addfinalizer(lambda: s3.drop(bucket))
        settings = s3.settings(bucket)
    server = serve(workers=1, threads=UPLOADS, **settings)
    (worker,) = server.worker_pids()

    # A first upload loads what the pipeline imports lazily; memory is measured from here.
    warm = Image.new("RGB", (640, 480), (90, 140, 200))
    out = io.BytesIO()
    warm.save(out, "JPEG")
    assert upload(server, token, jobs[-1], out.getvalue()).status == 201
    before = memory_kb(worker)

    barrier = threading.Barrier(UPLOADS)
    results: list[Response | BaseException | None] = [None] * UPLOADS

    def send(i: int) -> None:
        data = variant(photo, i)
        barrier.wait()
        try:
            results[i] = upload(server, token, jobs[i], data)
        except BaseException as exc:  # reported below
            results[i] = exc

    threads = [threading.Thread(target=send, args=(i,)) for i in range(UPLOADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    after = memory_kb(worker)
    growth_mb = (after["VmHWM"] - before["VmRSS"]) / 1024
    print(f"worker peak RSS growth with {UPLOADS} concurrent 12 MP uploads "
          f"({len(photo) / MB:.1f} MB each): {growth_mb:.0f} MB")

    assert not [r for r in results if isinstance(r, BaseException)], results
    statuses = [r.status for r in results]
    assert set(statuses) <= {201, 413, 422, 429}, [(r.status, r.body) for r in results]
    for r in results:
        if r.status != 201:
            assert r.headers["Content-Type"] == "application/problem+json"
    stored = [r for r in results if r.status == 201]
    assert len(stored) >= UPLOADS // 2, statuses
    assert all((r.body["width"], r.body["height"]) == (4000, 3000) for r in stored)
    assert growth_mb < PEAK_GROWTH_LIMIT_MB, f"peak grew by {growth_mb:.0f} MB"
    assert server.worker_pids() == [worker]  # not killed and replaced on the way

    # Every stored photo has its three files; nothing temporary is left anywhere.
    db.session.remove()
    keys = db.session.execute(sa.select(Photo.original_key, Photo.display_key, Photo.thumb_key)
                              .where(Photo.id.in_([r.body["id"] for r in stored]))).all()
    assert len(keys) == len(stored)
    photo_dir = Path(server.env["PHOTO_DIR"])
    on_disk = [p.relative_to(photo_dir).as_posix() for p in photo_dir.rglob("*") if p.is_file()]
    files = set(s3.keys(bucket)) if backend == "s3" else set(on_disk)
    if backend == "s3":
        assert on_disk == []
    assert {key for row in keys for key in row} <= files
    assert len(files) == 3 * (len(stored) + 1)  # and the warm-up photo's
    assert not [p for p in photo_dir.rglob("*") if p.name.startswith(".upload-")]
    assert list(Path(server.env["TMPDIR"]).iterdir()) == []
    assert audit.verify_chain() is None
    assert "Traceback" not in server.log_text(), server.log_text()
