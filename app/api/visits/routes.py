"""/visits: GPS check-in and check-out, and the supervisor's verification queue."""
from __future__ import annotations

from flask import jsonify, request
from flask.views import MethodView
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from app import idempotency
from app.api import security
from app.api.common import envelope, paginate
from app.api.security import require_roles
from app.api.visits.presenters import VisitView, present, present_one
from app.api.visits.schemas import (
    VisitAnswerSchema,
    VisitCheckInSchema,
    VisitCheckOutSchema,
    VisitDisputeSchema,
    VisitListArgs,
    VisitSchema,
    VisitVerifySchema,
    checked_in_answer,
)
from app.api_base import Blueprint, documented_as
from app.errors import Forbidden, Unauthorized
from app.extensions import UNLIMITED_ENDPOINTS, read_then_write
from app.services import auth
from app.services import visits as service

blp = Blueprint("visits", __name__, url_prefix="/api/v1/visits",
                description="GPS check-in and check-out, and their verification")


@blp.route("")
class VisitsViews(MethodView):
    @require_roles()
    @blp.arguments(VisitListArgs, location="query")
    @blp.response(200, envelope(VisitSchema))
    def get(self, args):
        """List visits in scope; ?status=flagged,disputed is the verification queue, oldest first."""
        page = paginate(service.list_visits(current_user, args), args)
        page["items"] = present(page["items"])
        return page


@blp.route("/check-in")
class VisitCheckInViews(MethodView):
    # The busiest write of the day, kept lean: its caller read in one statement of Core
    # (not Flask-Login's ORM user) with the record of its Idempotency-Key (and on
    # PostgreSQL the key's advisory lock), the body loaded by the same parser as every
    # route's, and the key recorded with the answer in the request's one transaction
    # (app/idempotency.py). Its checks and their order are require_roles' and
    # before_request's: 401, the key's 422, CSRF, a replay, 403, then the body's 400 or
    # 422. The checks are tested as every route's (tests/api/test_check_in_sign_in.py).
    @idempotency.with_its_effects
    @documented_as(blp.arguments(VisitCheckInSchema), blp.response(201, VisitAnswerSchema))
    def post(self):
        """Check in at the site of one of your jobs (engineer)."""
        # The body is loaded first, outside any transaction: on SQLite the write lock is
        # taken once the caller is read (read_then_write), and nothing but the check-in's
        # own work should hold it. A refusal of the body still answers in its turn.
        try:
            data, refused = blp.ARGUMENTS_PARSER.parse(_CHECK_IN, request, location="json"), None
        except HTTPException as error:
            data, refused = None, error
        with read_then_write():
            engineer = security.caller(idempotency.request_key())
            if engineer is None:
                raise Unauthorized("Sign in to use this route.")
            replayed = idempotency.look_up_for(engineer.id, engineer.keyed_row)
            if replayed is not None:
                return replayed
            security.check_csrf()
            if engineer.role != "engineer":
                raise Forbidden("Your role may not use this route.")
            if refused is not None:  # raised within: no write lock taken for it
                raise refused
            service.before_checking_in(engineer.id, data)
        auth.record_use(engineer)
        new = service.check_in(engineer, data)
        # Written out rather than dumped by the schema, which still documents it.
        response = jsonify(checked_in_answer(new))
        response.status_code = 201
        # url_for's address (tests/api/test_visit_answers.py), put together directly.
        response.headers["Location"] = f"{request.script_root}{_VISIT_AT}{new.visit['id']}"
        return response


_CHECK_IN = VisitCheckInSchema()
_VISIT_AT = f"{blp.url_prefix}/"  # VisitByIdViews's rule, up to the id


# No rate limit applies to a check-in (api.md limits sign-in failures and the public
# feedback form), not even one set for the whole app: the limiter does not look at it
# at all, not even to find its limits.
UNLIMITED_ENDPOINTS.add("visits.VisitCheckInViews")


@blp.route("/<int:visit_id>")
class VisitByIdViews(MethodView):
    @require_roles()
    @blp.response(200, VisitSchema)
    def get(self, visit_id):
        """One visit in scope, with the evidence a decision needs."""
        return present_one(service.get_visit(current_user, visit_id))


@blp.route("/<int:visit_id>/check-out")
class VisitCheckOutViews(MethodView):
    @require_roles("engineer")
    @blp.arguments(VisitCheckOutSchema)
    @blp.response(200, VisitAnswerSchema)
    def post(self, data, visit_id):
        """Check out of your open visit (engineer)."""
        return VisitView(*service.check_out(current_user, visit_id, data))


@blp.route("/<int:visit_id>/verify")
class VisitVerifyViews(MethodView):
    @require_roles("supervisor", "admin")
    @blp.arguments(VisitVerifySchema)
    @blp.response(200, VisitSchema)
    def post(self, data, visit_id):
        """Approve or reject a visit (its engineer's supervisor, admin); a note is required to reject."""
        return present_one(service.decide(current_user, visit_id, data["decision"], data.get("note")))


@blp.route("/<int:visit_id>/dispute")
class VisitDisputeViews(MethodView):
    @require_roles("engineer")
    @blp.arguments(VisitDisputeSchema)
    @blp.response(200, VisitSchema)
    def post(self, data, visit_id):
        """Contest the rejection of your visit, once (engineer)."""
        return present_one(service.dispute(current_user, visit_id, data["note"]))
