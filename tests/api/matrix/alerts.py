"""Early warnings: supervisors of the engineer concerned and admins; the watch list: admins."""
from __future__ import annotations

from app.extensions import db
from app.models import Alert, Review
from tests.api.matrix import ENGINEERS_403, expect

# A body cannot name the world's ids: the review taking the action item has a fixed id.
REVIEW_ID = 750_001

ROWS = [
    ("GET", "/api/v1/alerts", "alerts", {}, expect(everyone=200, **ENGINEERS_403)),
    ("POST", "/api/v1/alerts/<int:alert_id>/dismiss", "alerts/{alert_of_eng_a1}/dismiss", {},
     expect(everyone=404, sup_a=200, admin=200, **ENGINEERS_403)),
    ("POST", "/api/v1/alerts/<int:alert_id>/action-item", "alerts/{alert_of_eng_a1}/action-item",
     {"json": {"review_id": REVIEW_ID, "title": "Call the customer back", "due_date": "2026-12-31"}},
     expect(everyone=404, sup_a=201, admin=201, **ENGINEERS_403)),
    ("GET", "/api/v1/alerts/watch-list", "alerts/watch-list", {}, expect(everyone=403, admin=200)),
    ("PUT", "/api/v1/alerts/watch-list", "alerts/watch-list", {"json": {"terms": ["投诉", "rude"]}},
     expect(everyone=403, admin=200)),
]


def world(app, org, factory) -> dict:
    job = factory.job(engineer=org["eng_a1"])
    alert = Alert(kind="KEYWORD", engineer_id=org["eng_a1"].id, job_id=job.id, matched=["rude"],
                  detail="The description mentions rude.", dedupe_key=f"KEYWORD:job-description:{job.id}")
    db.session.add(alert)
    db.session.add(Review(id=REVIEW_ID, engineer_id=org["eng_a1"].id, supervisor_id=org["sup_a"].id,
                          period="2026-11", summary="A steady month."))
    db.session.flush()
    return {"alert_of_eng_a1": alert.id}
