"""Customer feedback: the link, the two public routes, the scoped list."""
from __future__ import annotations

from app.extensions import db
from app.models import Feedback
from app.models.types import utcnow
from app.services import feedback as feedback_service
from tests.api.matrix import expect

ROWS = [
    ("POST", "/api/v1/jobs/<int:job_id>/feedback-link", "jobs/{feedback_job}/feedback-link", {},
     expect(everyone=404, eng_a1=201, sup_a=201, admin=403)),
    ("GET", "/api/v1/feedback", "feedback", {}, expect(everyone=200)),
    ("GET", "/api/v1/feedback/items/<int:feedback_id>", "feedback/items/{feedback_of_eng_a1}", {},
     expect(everyone=404, eng_a1=200, sup_a=200, admin=200)),
    # Public: the token is the only key to see what is rated, whoever calls; the rating
    # itself is the customer's, from a phone not signed in to any account.
    ("GET", "/api/v1/feedback/<token>", "feedback/{feedback_token}", {},
     expect(anonymous=200, everyone=200)),
    ("POST", "/api/v1/feedback/<token>", "feedback/{feedback_token}", {"json": {"score": 9}},
     expect(anonymous=201, everyone=403)),
]

PUBLIC_ROUTES = {
    ("GET", "/api/v1/feedback/<token>"),
    ("POST", "/api/v1/feedback/<token>"),
}


def world(app, org, factory) -> dict:
    eng = org["eng_a1"]
    site = factory.site()
    # A visited job without feedback: links may be made for it, and one is live.
    job = factory.job(site=site, engineer=eng, created_by=org["sup_a"], status="in_progress")
    factory.visit(job)
    _, token = feedback_service.issue_link(eng, job.id)
    # A rated job, for the single-feedback route.
    rated = factory.job(site=site, engineer=eng, created_by=org["sup_a"], status="closed",
                        closed_at=utcnow())
    feedback = Feedback(job_id=rated.id, score=8, comment="Good", submitted_at=utcnow())
    db.session.add(feedback)
    db.session.flush()
    return {"feedback_job": job.id, "feedback_token": token, "feedback_of_eng_a1": feedback.id}
