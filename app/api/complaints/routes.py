"""/complaints: customer complaints about a job, and their resolution."""
from __future__ import annotations

from flask import url_for
from flask.views import MethodView
from flask_login import current_user

from app.api.common import envelope, paginate
from app.api.complaints.schemas import (
    ComplaintCreateSchema,
    ComplaintListArgs,
    ComplaintResolveSchema,
    ComplaintSchema,
)
from app.api.security import require_roles
from app.api_base import Blueprint
from app.services import complaints as service

# Complaints are made on a job (/jobs/{id}/complaints) and then live on their own.
blp = Blueprint("complaints", __name__, url_prefix="/api/v1", description="Customer complaints")


@blp.route("/jobs/<int:job_id>/complaints")
class JobComplaintsViews(MethodView):
    @require_roles("supervisor", "admin")
    @blp.arguments(ComplaintCreateSchema)
    @blp.response(201, ComplaintSchema)
    def post(self, data, job_id):
        """Record a customer complaint about a job (supervisor, admin)."""
        row = service.create_complaint(current_user, job_id, data)
        return row, 201, {"Location": url_for("complaints.ComplaintByIdViews", complaint_id=row.Complaint.id)}


@blp.route("/complaints")
class ComplaintsViews(MethodView):
    @require_roles()
    @blp.arguments(ComplaintListArgs, location="query")
    @blp.response(200, envelope(ComplaintSchema))
    def get(self, args):
        """List the complaints on the jobs within scope, newest first."""
        return paginate(service.list_complaints(current_user, args), args, scalars=False)


@blp.route("/complaints/<int:complaint_id>")
class ComplaintByIdViews(MethodView):
    @require_roles()
    @blp.response(200, ComplaintSchema)
    def get(self, complaint_id):
        """One complaint on a job within scope."""
        return service.get_complaint(current_user, complaint_id)


@blp.route("/complaints/<int:complaint_id>/resolve")
class ComplaintResolveViews(MethodView):
    @require_roles("supervisor", "admin")
    @blp.arguments(ComplaintResolveSchema)
    @blp.response(200, ComplaintSchema)
    def post(self, data, complaint_id):
        """Resolve a complaint once (supervisor, admin; audited)."""
        return service.resolve_complaint(current_user, complaint_id, data["resolution"])
