"""/jobs: work orders (工单), their dispatch, first contact and close."""
from __future__ import annotations

from flask import jsonify, url_for
from flask.views import MethodView
from flask_login import current_user

from app.api.common import CSV_UPLOAD_BODY, accepts_body, csv_upload, envelope, paginate
from app.api.jobs.schemas import (
    AssignmentSuggestionsSchema,
    JobAssignSchema,
    JobCancelSchema,
    JobCloseSchema,
    JobContactSchema,
    JobCreateSchema,
    JobImportArgs,
    JobImportReportSchema,
    JobListArgs,
    JobPatchSchema,
    JobSchema,
    job_item,
)
from app.api.security import require_roles
from app.api_base import Blueprint
from app.models import Job
from app.scope import get_visible, jobs_visible
from app.services import dispatch, job_import
from app.services import jobs as service

blp = Blueprint("jobs", __name__, url_prefix="/api/v1/jobs", description="Work orders")


@blp.route("")
class JobsViews(MethodView):
    @require_roles("supervisor", "admin")
    @blp.arguments(JobCreateSchema)
    @blp.response(201, JobSchema)
    def post(self, data):
        """Create a job (supervisor, admin); with engineer_id it is assigned at once."""
        job = service.create_job(current_user, data)
        return job, 201, {"Location": url_for("jobs.JobByIdViews", job_id=job.id)}

    @require_roles()
    @blp.arguments(JobListArgs, location="query")
    @blp.response(200, envelope(JobSchema))
    def get(self, args):
        """List the jobs within scope, newest first."""
        page = paginate(service.list_jobs(current_user, args), args, plain=True)
        # Written out rather than dumped by the schema, which still documents it.
        page["items"] = [job_item(row) for row in page["items"]]
        return jsonify(page)


IMPORT_DESCRIPTION = (
    "Columns (a header row, any order): `site_id`, `title`, `category`, `priority` "
    "(required), `external_id` (the ticket's id in its source, unique per source), "
    "`description`, `mode`, `asset_ref`, `reported_at` (ISO 8601 with an offset; default "
    "now), `scheduled_for` (YYYY-MM-DD), `engineer_id` (assigns at once: an active engineer "
    "of your team, any for an admin). UTF-8 or GB18030; at most 10,000 rows. "
    "`?dry_run=true` answers 200 with every refused row's line and reasons and imports "
    "nothing; otherwise every row is imported (201) or, when any is refused, none (422 "
    "with `errors.rows`). Cells are stored as text, never evaluated; the report names "
    "columns and reason codes, never a cell's content."
)


@blp.route("/import")
class JobsImportViews(MethodView):
    @require_roles("supervisor", "admin")
    @blp.arguments(JobImportArgs, location="query")
    @blp.doc(requestBody=CSV_UPLOAD_BODY, description=IMPORT_DESCRIPTION)
    @blp.response(201, JobImportReportSchema)
    @blp.alt_response(200, schema=JobImportReportSchema, description="The dry run's report.")
    def post(self, args):
        """Import jobs from CSV (supervisor: for their team; admin): a dry run, or all rows or none."""
        report = job_import.import_jobs(current_user, csv_upload(), args.get("source"),
                                        args["dry_run"])
        return report, 200 if args["dry_run"] else 201


accepts_body("jobs.JobsImportViews", "multipart/form-data", "text/csv")

@blp.route("/<int:job_id>")
class JobByIdViews(MethodView):
    @require_roles()
    @blp.response(200, JobSchema)
    def get(self, job_id):
        """One job within scope."""
        return get_visible(Job, job_id, jobs_visible(current_user))

    @require_roles("supervisor", "admin")
    @blp.arguments(JobPatchSchema)
    @blp.response(200, JobSchema)
    def patch(self, data, job_id):
        """Change a job (supervisor, admin; audited)."""
        return service.update_job(current_user, job_id, data)


@blp.route("/<int:job_id>/cancel")
class JobCancelViews(MethodView):
    @require_roles("supervisor", "admin")
    @blp.arguments(JobCancelSchema)
    @blp.response(200, JobSchema)
    def post(self, data, job_id):
        """Cancel an open job (supervisor, admin; audited); it then counts nowhere."""
        return service.cancel_job(current_user, job_id, data["reason"])


@blp.route("/<int:job_id>/assign")
class JobAssignViews(MethodView):
    @require_roles("supervisor", "admin")
    @blp.arguments(JobAssignSchema)
    @blp.response(200, JobSchema)
    def post(self, data, job_id):
        """Assign or reassign a job (supervisor: to their own team; admin)."""
        return service.assign_job(current_user, job_id, data["engineer_id"], data.get("at"))


@blp.route("/<int:job_id>/assignment-suggestions")
class JobAssignmentSuggestionsViews(MethodView):
    @require_roles("supervisor", "admin")
    @blp.response(200, AssignmentSuggestionsSchema)
    def get(self, job_id):
        """Whom to send: your engineers in the dispatch rule's order (job's supervisor, admin).

        Nearest to the job's site first (from their last known position, else their home
        site), then the fewer open jobs today; those with neither position nor home site last.
        """
        return dispatch.assignment_suggestions(current_user, job_id)


@blp.route("/<int:job_id>/contact")
class JobContactViews(MethodView):
    @require_roles("engineer")
    @blp.arguments(JobContactSchema)
    @blp.response(200, JobSchema)
    def post(self, data, job_id):
        """Record the first customer contact (the job's engineer); later calls keep it."""
        return service.record_contact(current_user, job_id, data.get("at"))


@blp.route("/<int:job_id>/close")
class JobCloseViews(MethodView):
    @require_roles("engineer")
    @blp.arguments(JobCloseSchema)
    @blp.response(200, JobSchema)
    def post(self, data, job_id):
        """Close a job with its resolution and checklist (the job's engineer)."""
        return service.close_job(current_user, job_id, data)
