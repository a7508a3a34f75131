"""Photo evidence: upload and list on a job, the three copies of a photo."""
from __future__ import annotations

import io

from PIL import Image
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from app.extensions import db
from app.models import KnowledgeItem
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
_case_boundary, _case_body = encode_multipart({"file": FileStorage(io.BytesIO(_jpeg()), "a.jpg")})
CASE_UPLOAD = {"data": MultipartBody(_case_body),
               "content_type": f"multipart/form-data; boundary={_case_boundary}"}

# Whoever may see eng_a1's job: eng_a1, sup_a (team), the admin.
JOB_VIEWERS = expect(everyone=404, eng_a1=200, sup_a=200, admin=200)

ROWS = [
    ("POST", "/api/v1/jobs/<int:job_id>/photos", "jobs/{photo_job}/photos", UPLOAD,
     expect(everyone=404, eng_a1=201, sup_a=403, sup_b=403, admin=403)),
    ("GET", "/api/v1/jobs/<int:job_id>/photos", "jobs/{photo_job}/photos", {}, JOB_VIEWERS),
    ("GET", "/api/v1/photos/<int:photo_id>/thumb", "photos/{photo}/thumb", {}, JOB_VIEWERS),
    ("GET", "/api/v1/photos/<int:photo_id>/image", "photos/{photo}/image", {}, JOB_VIEWERS),
    # A submitted case's photos: its author adds them; its scope (the author, their
    # supervisor, the admins) sees them.
    ("POST", "/api/v1/cases/<int:case_id>/photos", "cases/{photo_case}/photos", CASE_UPLOAD,
     expect(everyone=404, eng_a1=201, sup_a=403, sup_b=403, admin=403)),
    ("GET", "/api/v1/cases/<int:case_id>/photos", "cases/{photo_case}/photos", {}, JOB_VIEWERS),
    ("GET", "/api/v1/cases/<int:case_id>/photos/<int:photo_id>/thumb",
     "cases/{photo_case}/photos/{case_photo}/thumb", {}, JOB_VIEWERS),
    ("GET", "/api/v1/cases/<int:case_id>/photos/<int:photo_id>/image",
     "cases/{photo_case}/photos/{case_photo}/image", {}, JOB_VIEWERS),
    ("GET", "/api/v1/photos/<int:photo_id>/original", "photos/{photo}/original", {},
     expect(sup_a=200, sup_b=404, admin=200, **ENGINEERS_403)),
]


def world(app, org, factory) -> dict:
    job = factory.job(engineer=org["eng_a1"], created_by=org["sup_a"])
    client = ApiClient(app.test_client()).use_token(org["eng_a1"])
    response = client.post(f"jobs/{job.id}/photos", data=bytes(UPLOAD["data"]),
                           content_type=UPLOAD["content_type"])
    assert response.status_code == 201, response.get_data(as_text=True)
    case = KnowledgeItem(author_id=org["eng_a1"].id, kind="case", title="Fan noise",
                         solution="Tighten the mount", tags=[], status="submitted")
    db.session.add(case)
    db.session.flush()
    case_photo = client.post(f"cases/{case.id}/photos", data=bytes(CASE_UPLOAD["data"]),
                             content_type=CASE_UPLOAD["content_type"])
    assert case_photo.status_code == 201, case_photo.get_data(as_text=True)
    return {"photo_job": job.id, "photo": response.json["id"], "photo_case": case.id,
            "case_photo": case_photo.json["id"]}
