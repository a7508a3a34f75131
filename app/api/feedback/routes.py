"""Customer feedback: the signed link, the public rating page's routes, the scoped list."""
from __future__ import annotations

from flask import request, url_for
from flask.views import MethodView
from flask_login import current_user

from app.api.common import envelope, paginate
from app.api.feedback.schemas import (
    FeedbackCreateSchema,
    FeedbackItemSchema,
    FeedbackLinkSchema,
    FeedbackLinkViewSchema,
    FeedbackListArgs,
    FeedbackSchema,
)
from app import idempotency
from app.api.security import require_roles
from app.api_base import Blueprint
from app.extensions import limiter
from app.services import feedback as service

blp = Blueprint("feedback", __name__, url_prefix="/api/v1", description="Customer feedback")

# The public routes answer anyone holding a token: a modest limit per client address
# (both routes share it) keeps token guessing and floods slow. 429 with Retry-After.
public_limit = limiter.shared_limit(service.public_rate_limit, scope="feedback-public")


@blp.route("/jobs/<int:job_id>/feedback-link")
class JobFeedbackLinkViews(MethodView):
    @require_roles("engineer", "supervisor")
    @blp.response(201, FeedbackLinkSchema)
    def post(self, job_id):
        """Make the customer's single-use rating link (the job's engineer, their supervisor)."""
        link, token = service.issue_link(current_user, job_id)
        # Replayed to the phone that asked (its offline queue), unusable to a reader of
        # the database: the link's token is stored only as a digest, and sealed here.
        idempotency.seal("url", headers=("Location",))
        body = {"url": service.link_url(token, request.host_url), "expires_at": link.expires_at}
        return body, 201, {"Location": url_for("feedback.FeedbackByTokenViews", token=token)}


@blp.route("/feedback")
class FeedbackViews(MethodView):
    @require_roles()
    @blp.arguments(FeedbackListArgs, location="query")
    @blp.response(200, envelope(FeedbackItemSchema))
    def get(self, args):
        """List feedback on the jobs of the engineers you may see, newest first."""
        return paginate(service.list_feedback(current_user, args), args, scalars=False)


@blp.route("/feedback/items/<int:feedback_id>")
class FeedbackByIdViews(MethodView):
    @require_roles()
    @blp.response(200, FeedbackItemSchema)
    def get(self, feedback_id):
        """One feedback with its job, within scope."""
        return service.get_feedback(current_user, feedback_id)


def public_errors(view):
    """Document what a customer's page must handle besides success."""
    for status, name in ((404, "NOT_FOUND"), (410, "GONE"), (429, "TOO_MANY_REQUESTS")):
        view = blp.alt_response(status, response=name)(view)
    return view


@blp.route("/feedback/<token>")
class FeedbackByTokenViews(MethodView):
    @public_limit
    @public_errors
    @blp.response(200, FeedbackLinkViewSchema)
    def get(self, token):
        """What the customer rates (public, with the link's token)."""
        return service.open_link(token)

    @public_limit
    @public_errors
    @blp.alt_response(403, response="FORBIDDEN")
    @blp.arguments(FeedbackCreateSchema)
    @blp.response(201, FeedbackSchema)
    def post(self, data, token):
        """Rate the job 0–10 with an optional comment (public, once per link; refused with
        403 RATING_BY_STAFF when the request is signed in to an account)."""
        rater = current_user if current_user.is_authenticated else None
        feedback = service.submit_feedback(token, data, rater)
        return feedback, 201, {"Location": url_for("feedback.FeedbackByIdViews", feedback_id=feedback.id)}
