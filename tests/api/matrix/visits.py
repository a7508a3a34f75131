"""Visits: check-in, check-out, the queue, decisions and disputes."""
from __future__ import annotations

from datetime import timedelta

from app.extensions import db
from app.models.types import utcnow
from tests.api.matrix import ENGINEERS_403, SUPERVISORS_403, expect

# A request body cannot name the world's ids, so the job checked in on gets a fixed id
# far above anything a sequence hands out in one test.
JOB_ID = 740_001
# Times fixed when the module is imported: the world's rows are older still.
A_MINUTE_AGO = (utcnow() - timedelta(minutes=1)).isoformat()
FIX = {"lat": 31.2304, "lon": 121.4737, "accuracy_m": 10, "client_time": A_MINUTE_AGO}

ENGINEER_ROUTE = expect(everyone=404, eng_a1=200, admin=403, **SUPERVISORS_403)
IN_SCOPE = expect(everyone=404, eng_a1=200, sup_a=200, admin=200)

ROWS = [
    ("GET", "/api/v1/visits", "visits", {}, expect(everyone=200)),
    ("POST", "/api/v1/visits/check-in", "visits/check-in", {"json": {"job_id": JOB_ID, **FIX}},
     expect(everyone=404, eng_a1=201, admin=403, **SUPERVISORS_403)),
    ("GET", "/api/v1/visits/<int:visit_id>", "visits/{visits_flagged}", {}, IN_SCOPE),
    ("POST", "/api/v1/visits/<int:visit_id>/check-out", "visits/{visits_open}/check-out",
     {"json": FIX}, ENGINEER_ROUTE),
    ("POST", "/api/v1/visits/<int:visit_id>/verify", "visits/{visits_flagged}/verify",
     {"json": {"decision": "approve", "note": "Photos match."}},
     expect(everyone=404, sup_a=200, admin=200, **ENGINEERS_403)),
    ("POST", "/api/v1/visits/<int:visit_id>/dispute", "visits/{visits_rejected}/dispute",
     {"json": {"note": "I was there."}}, ENGINEER_ROUTE),
]


def world(app, org, factory) -> dict:
    eng = org["eng_a1"]
    site = factory.site(lat=31.2304, lon=121.4737)
    three_days_ago = utcnow() - timedelta(days=3)
    factory.job(site=site, engineer=eng, id=JOB_ID, reported_at=three_days_ago)
    visited = factory.job(site=site, engineer=eng, reported_at=three_days_ago, status="in_progress")
    open_visit = factory.visit(visited, at=utcnow() - timedelta(days=2), minutes=None)
    flagged = factory.visit(visited, at=three_days_ago, status="flagged", flags=["LOW_ACCURACY"])
    rejected = factory.visit(visited, at=three_days_ago, status="rejected", flags=["MOCK_LOCATION"],
                             rejected_at=utcnow(), decision_note="Mock provider.")
    db.session.commit()
    return {"visits_open": open_visit.id, "visits_flagged": flagged.id,
            "visits_rejected": rejected.id}
