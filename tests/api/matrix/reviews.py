"""Monthly reviews: held by the engineer's supervisor (or an admin), acknowledged by the
engineer, action items ticked by either."""
from __future__ import annotations

from datetime import date

from app.extensions import db
from app.models import Review, ReviewActionItem
from tests.api.matrix import ENGINEERS_403, SUPERVISORS_403, expect

# engineer_id is filled in by world(): the body names eng_a1, whose id the test knows only then.
CREATE_BODY = {"engineer_id": None, "period": "2020-01", "summary": "A steady month.",
               "action_items": [{"title": "Read the HVAC manual", "due_date": "2020-02-28"}]}

ROWS = [
    ("POST", "/api/v1/reviews", "reviews", {"json": CREATE_BODY},
     expect(everyone=201, sup_b=422, **ENGINEERS_403)),
    ("GET", "/api/v1/reviews", "reviews", {}, expect(everyone=200)),
    ("GET", "/api/v1/reviews/<int:review_id>", "reviews/{review_of_eng_a1}", {},
     expect(everyone=404, eng_a1=200, sup_a=200, admin=200)),
    ("POST", "/api/v1/reviews/<int:review_id>/acknowledge", "reviews/{review_of_eng_a1}/acknowledge", {},
     expect(everyone=404, eng_a1=200, admin=403, **SUPERVISORS_403)),
    ("PATCH", "/api/v1/reviews/<int:review_id>/action-items/<int:item_id>",
     "reviews/{review_of_eng_a1}/action-items/{review_item_of_eng_a1}", {"json": {"done": True}},
     expect(everyone=404, eng_a1=200, sup_a=200, admin=200)),
]


def world(app, org, factory) -> dict:
    CREATE_BODY["engineer_id"] = org["eng_a1"].id
    review = Review(engineer_id=org["eng_a1"].id, supervisor_id=org["sup_a"].id,
                    period="2020-02", summary="Good work.")
    db.session.add(review)
    db.session.flush()
    item = ReviewActionItem(review_id=review.id, title="Shadow a senior", due_date=date(2020, 3, 31))
    db.session.add(item)
    db.session.flush()
    return {"review_of_eng_a1": review.id, "review_item_of_eng_a1": item.id}
