"""Photo upload of a 12-megapixel JPEG against Pillow alone (quality.md, speed table).

    .venv/bin/python bench/photo_pipeline.py [--rounds 15]

The pipeline is the whole upload request through the app (multipart parsing of a body
encoded beforehand, type and size checks, SHA-256, EXIF, difference hash, display copy,
thumbnail, duplicate lookup, files written, one commit) on a temporary SQLite database. The floor is Pillow alone
decoding the same JPEG with `draft` and writing the two sizes. The two alternate, round
by round, so that both see the same machine. Also reports the worker's peak-memory growth.
Goal: ratio ≤ 1.5 and memory growth < 150 MB. The image work alone (no HTTP, no
storage, no database) is shown beside it; the ratio printed last is the whole request's.
"""
from __future__ import annotations

import argparse
import io
import resource
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image  # noqa: E402
from werkzeug.datastructures import FileStorage  # noqa: E402


def twelve_megapixels() -> bytes:
    """A 4000×3000 photo-like JPEG (gradients and noise) with EXIF time and orientation."""
    base = Image.linear_gradient("L").resize((4000, 3000))
    noise = Image.effect_noise((4000, 3000), 40)
    image = Image.merge("RGB", (base, noise, Image.blend(base, noise, 0.5)))
    exif = Image.Exif()
    exif[0x0112] = 1
    exif.get_ifd(0x8769)[0x9003] = datetime.now(UTC).strftime("%Y:%m:%d %H:%M:%S")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92, exif=exif)
    return out.getvalue()


def floor(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as im:
        im.draft("RGB", (1600, 1200))
        display = im.convert("RGB")
        display.thumbnail((1600, 1600))
        display.save(io.BytesIO(), "JPEG", quality=85)
        thumb = display.copy()
        thumb.thumbnail((320, 320))
        thumb.save(io.BytesIO(), "JPEG", quality=80)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()

    from flask_migrate import upgrade

    from app import create_app
    from app.config import TestConfig
    from app.extensions import db
    from app.models import Job, Site, User
    from app.models.types import utcnow
    from app.services.auth import create_token, hash_password

    tmp = Path(tempfile.mkdtemp(prefix="fieldproof-bench-"))
    app = create_app(TestConfig(tmp / "instance", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp}/b.db"))
    # Made in a child process, so that its large buffers do not set this process's peak.
    with ProcessPoolExecutor(1) as pool:
        data = pool.submit(twelve_megapixels).result()
    with app.app_context():
        upgrade()
        engineer = User(email="e@bench", name="E", role="engineer", level="mid", work_type="field",
                        password_hash=hash_password("x" * 12))
        site = Site(name="S", customer_name="C", address="A", lat=31.2, lon=121.4, radius_m=150)
        db.session.add_all([engineer, site])
        db.session.flush()
        job_ids = []
        for _ in range(args.rounds + 1):
            job = Job(site_id=site.id, title="t", category="hvac", priority="normal", mode="field",
                      reported_at=utcnow() - timedelta(hours=1), engineer_id=engineer.id,
                      assigned_at=utcnow() - timedelta(minutes=50), status="assigned")
            db.session.add(job)
            db.session.flush()
            job_ids.append(job.id)
        _, token = create_token(engineer, "bench")
        db.session.commit()
    client = app.test_client()
    # The body is encoded once, as a phone would send it: its encoding is the client's
    # work, not the app's.
    from werkzeug.test import encode_multipart

    boundary, body = encode_multipart({"kind": "after", "file": FileStorage(io.BytesIO(data), "p.jpg",
                                                                             content_type="image/jpeg")})

    def upload(job_id: int) -> None:
        response = client.post(f"/api/v1/jobs/{job_id}/photos", headers={"Authorization": f"Bearer {token}"},
                               data=body, content_type=f"multipart/form-data; boundary={boundary}")
        assert response.status_code == 201, response.get_data(as_text=True)

    # The peak before any upload: the app, the database and the test image are loaded.
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    upload(job_ids.pop())  # warm up imports and caches
    floor(data)
    from app.imaging import process_upload

    pipeline_s, floor_s, images_s = [], [], []
    for job_id in job_ids:
        started = time.perf_counter()
        upload(job_id)
        pipeline_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        floor(data)
        floor_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        process_upload(data)
        images_s.append(time.perf_counter() - started)
    growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - rss_before
    pipeline, base = statistics.median(pipeline_s), statistics.median(floor_s)
    images = statistics.median(images_s)
    print(f"12-megapixel JPEG: {len(data) / 1e6:.1f} MB, {args.rounds} rounds")
    print(f"pipeline (upload request) median {pipeline * 1000:.0f} ms, floor (Pillow draft + two sizes) "
          f"median {base * 1000:.0f} ms")
    print(f"image work alone (app.imaging.process_upload) median {images * 1000:.0f} ms, "
          f"ratio {images / base:.2f}")
    print(f"peak memory growth of the process over all uploads: {growth:.0f} MB (goal < 150 MB)")
    print(f"ratio {pipeline / base:.2f} (goal <= 1.5)")


if __name__ == "__main__":
    main()
