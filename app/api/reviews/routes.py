"""/reviews: monthly reviews with an action plan and next month's targets."""
from __future__ import annotations

from flask import url_for
from flask.views import MethodView
from flask_login import current_user

from app.api.common import envelope, paginate
from app.api.reviews.schemas import (
    ActionItemPatchSchema,
    ReviewCreateSchema,
    ReviewListArgs,
    ReviewSchema,
)
from app.api.security import require_roles
from app.api_base import Blueprint
from app.services import reviews as service

blp = Blueprint("reviews", __name__, url_prefix="/api/v1/reviews", description="Monthly reviews")


@blp.route("")
class ReviewsViews(MethodView):
    @require_roles("supervisor", "admin")
    @blp.arguments(ReviewCreateSchema)
    @blp.response(201, ReviewSchema)
    def post(self, data):
        """Hold a monthly review of an engineer of your team (supervisor, admin)."""
        review = service.create_review(current_user, data)
        return review, 201, {"Location": url_for("reviews.ReviewByIdViews", review_id=review.id)}

    @require_roles()
    @blp.arguments(ReviewListArgs, location="query")
    @blp.response(200, envelope(ReviewSchema))
    def get(self, args):
        """List reviews within scope, newest first."""
        return service.with_action_items_page(paginate(service.list_reviews(current_user, args), args))


@blp.route("/<int:review_id>")
class ReviewByIdViews(MethodView):
    @require_roles()
    @blp.response(200, ReviewSchema)
    def get(self, review_id):
        """One review within scope, with its action items."""
        return service.get_review(current_user, review_id)


@blp.route("/<int:review_id>/acknowledge")
class ReviewAcknowledgeViews(MethodView):
    @require_roles("engineer")
    @blp.response(200, ReviewSchema)
    def post(self, review_id):
        """Acknowledge your review (the engineer reviewed); a repeat keeps the first time."""
        return service.acknowledge(current_user, review_id)


@blp.route("/<int:review_id>/action-items/<int:item_id>")
class ReviewActionItemViews(MethodView):
    @require_roles()
    @blp.arguments(ActionItemPatchSchema)
    @blp.response(200, ReviewSchema)
    def patch(self, data, review_id, item_id):
        """Tick an action item done or not done (the engineer, their supervisor, an admin)."""
        return service.set_action_item_done(current_user, review_id, item_id, data["done"])
