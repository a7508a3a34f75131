"""Photo evidence: upload and list on a job, the three copies of a photo."""
from __future__ import annotations

import io

from PIL import Image
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests.api.matrix import ENGINEERS_403, expect
from tests.support import ApiClient


class MultipartBody(bytes):
    """A ready multipart body. The matrix test turns a `data` string into bytes with
    `.encode()`; these bytes are already encoded, so it gives them back unchanged."""

    def encode(self, *args, **kwargs) -> bytes:
        return bytes(self)


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.linear_gradient("L").resize((64, 48)).convert("RGB").save(out, "JPEG")
    return out.getvalue()


_boundary, _body = encode_multipart(
    {"kind": "before", "file": FileStorage(io.BytesIO(_jpeg()), "a.jpg")})
UPLOAD = {"data": MultipartBody(_body),
          "content_type": f"multipart/form-data; boundary={_boundary}"}

# Whoever may see eng_a1's job: eng_a1, sup_a (team), the admin.
JOB_VIEWERS = expect(everyone=404, eng_a1=200, sup_a=200, admin=200)

ROWS = [
    ("POST", "/api/v1/jobs/<int:job_id>/photos", "jobs/{photo_job}/photos", UPLOAD,
     expect(everyone=404, eng_a1=201, sup_a=403, sup_b=403, admin=403)),
    ("GET", "/api/v1/jobs/<int:job_id>/photos", "jobs/{photo_job}/photos", {}, JOB_VIEWERS),
    ("GET", "/api/v1/photos/<int:photo_id>/thumb", "photos/{photo}/thumb", {}, JOB_VIEWERS),
    ("GET", "/api/v1/photos/<int:photo_id>/image", "photos/{photo}/image", {}, JOB_VIEWERS),
    ("GET", "/api/v1/photos/<int:photo_id>/original", "photos/{photo}/original", {},
     expect(sup_a=200, sup_b=404, admin=200, **ENGINEERS_403)),
]


def world(app, org, factory) -> dict:
    job = factory.job(engineer=org["eng_a1"], created_by=org["sup_a"])
    client = ApiClient(app.test_client()).use_token(org["eng_a1"])
    response = client.post(f"jobs/{job.id}/photos", data=bytes(UPLOAD["data"]),
                           content_type=UPLOAD["content_type"])
    assert response.status_code == 201, response.get_data(as_text=True)
    return {"photo_job": job.id, "photo": response.json["id"]}
