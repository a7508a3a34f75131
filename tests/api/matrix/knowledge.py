"""Knowledge cases, trainings, compliance events."""
from __future__ import annotations

from datetime import UTC, datetime

from app.extensions import db
from app.models import ComplianceEvent, KnowledgeItem, Training, TrainingAttendee
from app.services.knowledge import index_items
from tests.api.matrix import ENGINEERS_403, SUPERVISORS_403, expect

CASE_BODY = {"kind": "case", "title": "空调室内机漏水处理", "solution": "疏通排水管", "tags": ["hvac"]}
REVIEW_BODY = {"decision": "approve", "quality": 4}
HELD = "2026-10-14T09:00:00Z"
OWN_TEAM = dict(ENGINEERS_403, sup_b=404)  # the engineer concerned is sup_a's
# Request bodies cannot name the world's ids, so the engineer they name (one more of
# sup_a's team) gets a fixed id far above anything a sequence hands out in one test.
ENGINEER_ID = 740_001


# (method, URL rule, concrete path with placeholders, request kwargs, expected statuses)
ROWS = [
    # Cases: engineers submit; approved ones are shared, the others stay in the author's scope.
    ("POST", "/api/v1/cases", "cases", {"json": CASE_BODY},
     expect(everyone=201, **SUPERVISORS_403, admin=403)),
    ("GET", "/api/v1/cases", "cases?q=漏水", {}, expect(everyone=200)),
    ("GET", "/api/v1/cases/<int:case_id>", "cases/{submitted_case}", {},
     expect(everyone=404, eng_a1=200, sup_a=200, admin=200)),
    ("GET", "/api/v1/cases/<int:case_id>", "cases/{approved_case}", {}, expect(everyone=200)),
    ("PATCH", "/api/v1/cases/<int:case_id>", "cases/{submitted_case}", {"json": {"title": "更正"}},
     expect(everyone=404, eng_a1=200)),
    ("POST", "/api/v1/cases/<int:case_id>/review", "cases/{submitted_case}/review", {"json": REVIEW_BODY},
     expect(everyone=200, **OWN_TEAM)),
    # Trainings: recorded by supervisors of the attendees and admins.
    ("POST", "/api/v1/trainings", "trainings",
     {"json": {"title": "高空作业规范", "held_at": HELD, "hours": 2, "attendee_ids": [ENGINEER_ID]}},
     expect(everyone=201, **ENGINEERS_403, sup_b=422)),
    ("GET", "/api/v1/trainings", "trainings", {}, expect(everyone=200)),
    ("GET", "/api/v1/trainings/<int:training_id>", "trainings/{training}", {},
     expect(everyone=404, eng_a1=200, sup_a=200, admin=200)),
    ("PATCH", "/api/v1/trainings/<int:training_id>", "trainings/{training}", {"json": {"hours": 1.5}},
     expect(everyone=200, **OWN_TEAM)),
    ("DELETE", "/api/v1/trainings/<int:training_id>", "trainings/{training}", {},
     expect(everyone=204, **OWN_TEAM)),
    # Compliance events: recorded by the engineer's supervisor and admins.
    ("POST", "/api/v1/compliance-events", "compliance-events",
     {"json": {"engineer_id": ENGINEER_ID, "kind": "safety_incident", "severity": "low",
               "occurred_at": HELD, "note": "未佩戴安全帽"}},
     expect(everyone=201, **ENGINEERS_403, sup_b=422)),
    ("GET", "/api/v1/compliance-events", "compliance-events", {}, expect(everyone=200)),
    ("GET", "/api/v1/compliance-events/<int:event_id>", "compliance-events/{compliance_event}", {},
     expect(everyone=404, eng_a1=200, sup_a=200, admin=200)),
    ("PATCH", "/api/v1/compliance-events/<int:event_id>", "compliance-events/{compliance_event}",
     {"json": {"severity": "high"}}, expect(everyone=200, **OWN_TEAM)),
    ("DELETE", "/api/v1/compliance-events/<int:event_id>", "compliance-events/{compliance_event}", {},
     expect(everyone=204, **OWN_TEAM)),
]


def world(app, org, factory) -> dict:
    eng = org["eng_a1"]
    factory.user("engineer", supervisor=org["sup_a"], id=ENGINEER_ID)
    submitted = KnowledgeItem(author_id=eng.id, kind="case", title="冷媒泄漏检测", solution="保压检漏",
                              tags=["hvac"], status="submitted")
    approved = KnowledgeItem(author_id=eng.id, kind="document", title="R410A 加注规范", solution="按规范加注",
                             tags=[], status="approved", quality=4, reviewed_by_id=org["sup_a"].id,
                             reviewed_at=datetime(2026, 10, 20, tzinfo=UTC))
    training = Training(title="Working at height", held_at=datetime(2026, 10, 1, tzinfo=UTC), hours=2,
                        created_by_id=org["sup_a"].id, attendees=[TrainingAttendee(user_id=eng.id)])
    event = ComplianceEvent(engineer_id=eng.id, kind="process_violation", severity="medium",
                            occurred_at=datetime(2026, 10, 2, tzinfo=UTC), note="跳过断电确认",
                            created_by_id=org["sup_a"].id)
    db.session.add_all([submitted, approved, training, event])
    db.session.flush()
    index_items([submitted, approved])
    return {"submitted_case": submitted.id, "approved_case": approved.id, "training": training.id,
            "compliance_event": event.id}
