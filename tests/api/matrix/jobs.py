"""Jobs, categories and complaints."""
from __future__ import annotations

import itertools
from datetime import timedelta

from app.extensions import db
from app.models import Complaint, Photo
from app.models.types import utcnow
from tests.api.matrix import ENGINEERS_403, SUPERVISORS_403, expect

# Request bodies cannot name the world's ids, so the rows they name get fixed ids far
# above anything a sequence hands out in one test.
SITE_ID = 730_001
ENGINEER_ID = 730_002  # a second engineer of sup_a's team, to (re)assign to

CHECKLIST = {"ppe_worn": True, "power_isolated": True, "area_cleaned": True, "customer_briefed": True}
NEW_JOB = {"site_id": SITE_ID, "title": "Boiler noise", "category": "hvac", "priority": "normal"}
CLOSE = {"resolution": "Replaced the fan", "fixed": True, "checklist": CHECKLIST}
SUPERVISOR_ROUTE = expect(everyone=404, sup_a=200, admin=200, **ENGINEERS_403)
ENGINEER_ROUTE = expect(everyone=404, eng_a1=200, admin=403, **SUPERVISORS_403)
IN_SCOPE = expect(everyone=404, eng_a1=200, sup_a=200, admin=200)

ROWS = [
    ("GET", "/api/v1/jobs", "jobs", {}, expect(everyone=200)),
    ("POST", "/api/v1/jobs", "jobs", {"json": NEW_JOB}, expect(everyone=201, **ENGINEERS_403)),
    ("GET", "/api/v1/jobs/<int:job_id>", "jobs/{jobs_job}", {}, IN_SCOPE),
    ("PATCH", "/api/v1/jobs/<int:job_id>", "jobs/{jobs_job}", {"json": {"title": "Renamed"}},
     SUPERVISOR_ROUTE),
    ("POST", "/api/v1/jobs/<int:job_id>/cancel", "jobs/{jobs_job}/cancel",
     {"json": {"reason": "Customer withdrew"}}, SUPERVISOR_ROUTE),
    ("POST", "/api/v1/jobs/<int:job_id>/assign", "jobs/{jobs_job}/assign",
     {"json": {"engineer_id": ENGINEER_ID}}, SUPERVISOR_ROUTE),
    ("GET", "/api/v1/jobs/<int:job_id>/assignment-suggestions", "jobs/{jobs_job}/assignment-suggestions",
     {}, expect(everyone=404, sup_a=200, admin=200, **ENGINEERS_403)),
    ("POST", "/api/v1/jobs/<int:job_id>/contact", "jobs/{jobs_job}/contact", {"json": {}}, ENGINEER_ROUTE),
    ("POST", "/api/v1/jobs/<int:job_id>/close", "jobs/{jobs_job}/close", {"json": CLOSE}, ENGINEER_ROUTE),
    ("POST", "/api/v1/jobs/<int:job_id>/complaints", "jobs/{jobs_job}/complaints",
     {"json": {"detail": "Nobody called back"}},
     expect(everyone=404, sup_a=201, admin=201, **ENGINEERS_403)),
    ("GET", "/api/v1/complaints", "complaints", {}, expect(everyone=200)),
    ("GET", "/api/v1/complaints/<int:complaint_id>", "complaints/{jobs_complaint}", {}, IN_SCOPE),
    ("POST", "/api/v1/complaints/<int:complaint_id>/resolve", "complaints/{jobs_complaint}/resolve",
     {"json": {"resolution": "Apologised"}}, SUPERVISOR_ROUTE),
    ("GET", "/api/v1/categories", "categories", {}, expect(everyone=200)),
    ("PUT", "/api/v1/categories/<string:key>", "categories/solar",
     {"json": {"name": "Solar", "checklist": ["ppe_worn"], "signature_required": False}},
     expect(everyone=403, admin=201)),
]


_photo_seq = itertools.count(1)


def add_photo(job, kind: str = "after", uploaded_by=None, **fields) -> Photo:
    """A stored photo row: closing a job needs the row, not the image."""
    n = next(_photo_seq)
    values = {
        "job_id": job.id, "uploaded_by_id": (uploaded_by.id if uploaded_by else job.engineer_id),
        "kind": kind, "content_type": "image/jpeg", "sha256": f"{n:064x}", "width": 640,
        "height": 480, "flags": [], "created_at": utcnow(),
    }
    values.update(fields)
    # Whatever else the photos model requires (keys, hashes) gets a placeholder.
    for column in Photo.__table__.columns:
        if column.name not in values and not column.nullable and not column.primary_key \
                and column.default is None:
            values[column.name] = f"x/{n}" if column.type.python_type is str else n
    photo = Photo(**values)
    db.session.add(photo)
    db.session.flush()
    return photo


def world(app, org, factory) -> dict:
    """eng_a1's open field job, created by sup_a, ready to close; a complaint on it."""
    site = factory.site(id=SITE_ID)
    factory.user("engineer", supervisor=org["sup_a"], id=ENGINEER_ID)
    job = factory.job(site=site, engineer=org["eng_a1"], created_by=org["sup_a"])
    factory.visit(job, at=utcnow() - timedelta(minutes=40), minutes=20)
    add_photo(job, "after")
    complaint = Complaint(job_id=job.id, detail="Late", received_at=utcnow(), created_by_id=org["sup_a"].id)
    db.session.add(complaint)
    db.session.flush()
    return {"jobs_job": job.id, "jobs_complaint": complaint.id}

