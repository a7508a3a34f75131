"""/reports: the weekly report of a team or of the company (workday.md, Reports)."""
from __future__ import annotations

from flask import Response
from flask.views import MethodView
from flask_login import current_user

from app.api.reports.schemas import WeeklyReportArgs, WeeklyReportPdfArgs, WeeklyReportSchema
from app.api.security import require_roles
from app.api_base import Blueprint
from app.services import report_pdf
from app.services import reports as service

blp = Blueprint("reports", __name__, url_prefix="/api/v1/reports",
                description="The weekly report of a team or the company")

PDF_RESPONSES = {"200": {"description": "The report as an A4 PDF attachment.", "content": {
    "application/pdf": {"schema": {"type": "string", "format": "binary"}}}}}


@blp.route("/weekly")
class WeeklyReportViews(MethodView):
    @require_roles("supervisor", "admin")
    @blp.arguments(WeeklyReportArgs, location="query")
    @blp.response(200, WeeklyReportSchema)
    def get(self, args):
        """The week's jobs, visits, decisions and KPIs against the previous week and the
        month's targets; a supervisor's team, an admin's company or any team."""
        return service.weekly_report(current_user, args.get("week"), args.get("supervisor_id"))


@blp.route("/weekly.pdf")
class WeeklyReportPdfViews(MethodView):
    @require_roles("supervisor", "admin")
    @blp.arguments(WeeklyReportPdfArgs, location="query")
    @blp.doc(responses=PDF_RESPONSES)
    def get(self, args):
        """The weekly report as a printable PDF, in Chinese (default) or English."""
        report = service.weekly_report(current_user, args.get("week"), args.get("supervisor_id"))
        body = report_pdf.render(report, args["lang"])
        disposition = f'attachment; filename="{report_pdf.filename(report)}"'
        return Response(body, content_type="application/pdf",
                        headers={"Content-Disposition": disposition})
