"""/cases: knowledge cases and documents, their review, and search (Chinese included)."""
from __future__ import annotations

from flask import url_for
from flask.views import MethodView
from flask_login import current_user

from app.api.cases.schemas import (
    CaseCreateSchema,
    CaseListArgs,
    CasePatchSchema,
    CaseReviewSchema,
    CaseSchema,
)
from app.api.common import envelope, paginate
from app.api.security import require_roles
from app.api_base import Blueprint
from app.services import knowledge as service

blp = Blueprint("cases", __name__, url_prefix="/api/v1/cases",
                description="Knowledge cases and documents")


@blp.route("")
class CasesViews(MethodView):
    @require_roles("engineer")
    @blp.arguments(CaseCreateSchema)
    @blp.response(201, CaseSchema)
    def post(self, data):
        """Submit a case or document for review (engineer)."""
        item = service.submit_case(current_user, data)
        return item, 201, {"Location": url_for("cases.CaseByIdViews", case_id=item.id)}

    @require_roles()
    @blp.arguments(CaseListArgs, location="query")
    @blp.response(200, envelope(CaseSchema))
    def get(self, args):
        """Find cases: approved ones for everyone, the others within the author's scope."""
        page = paginate(service.list_cases(current_user, args), args)
        service.with_photos(page["items"])
        return page


@blp.route("/<int:case_id>")
class CaseByIdViews(MethodView):
    @require_roles()
    @blp.response(200, CaseSchema)
    def get(self, case_id):
        """One case."""
        return service.get_case(current_user, case_id)

    @require_roles()
    @blp.arguments(CasePatchSchema)
    @blp.response(200, CaseSchema)
    def patch(self, data, case_id):
        """Correct your own case while it waits for review."""
        return service.update_case(current_user, case_id, data)


@blp.route("/<int:case_id>/review")
class CaseReviewViews(MethodView):
    @require_roles("supervisor", "admin")
    @blp.arguments(CaseReviewSchema)
    @blp.response(200, CaseSchema)
    def post(self, data, case_id):
        """Approve or reject a submitted case with a quality mark (the author's supervisor, admin)."""
        return service.review_case(current_user, case_id, data)
