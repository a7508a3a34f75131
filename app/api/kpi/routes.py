"""/kpi: schemes, KPI cards and the records behind them, the team board, the export and
the monthly close (kpi.md)."""
from __future__ import annotations

from flask import Response
from flask.views import MethodView
from flask_login import current_user

from app.api.common import PageArgs
from app.api.kpi.schemas import (
    KpiClosedPeriodSchema,
    KpiExportArgs,
    KpiCardSchema,
    KpiHistoryArgs,
    KpiHistorySchema,
    KpiMetricListSchema,
    KpiPeriodArgs,
    KpiRecordArgs,
    KpiRecordPageSchema,
    KpiSchemePageSchema,
    KpiSchemeSchema,
    KpiTeamArgs,
    KpiTeamBoardSchema,
)
from app.api.security import require_roles
from app.api_base import Blueprint
from app.services import kpi as service

blp = Blueprint("kpi", __name__, url_prefix="/api/v1/kpi",
                description="KPI schemes, cards, team board, export and monthly close")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT_RESPONSES = {"200": {"description": "One row per engineer and metric.", "content": {
    "text/csv": {"schema": {"type": "string"}},
    XLSX: {"schema": {"type": "string", "format": "binary"}},
}}}


@blp.route("/metrics")
class MetricsViews(MethodView):
    @require_roles()
    @blp.response(200, KpiMetricListSchema)
    def get(self):
        """The dimensions and metrics a scheme weighs, in order (every signed-in user)."""
        return service.metric_definitions()


@blp.route("/schemes")
class SchemesViews(MethodView):
    @require_roles()
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, KpiSchemePageSchema)
    def get(self, args):
        """List the six KPI schemes (every signed-in user)."""
        schemes = service.list_schemes()
        page, per_page = args["page"], args["per_page"]
        return {"items": schemes[(page - 1) * per_page: page * per_page], "page": page,
                "per_page": per_page, "total": len(schemes)}


@blp.route("/schemes/<string:key>")
class SchemeByKeyViews(MethodView):
    @require_roles()
    @blp.response(200, KpiSchemeSchema)
    def get(self, key):
        """One KPI scheme, `LEVEL-WORKTYPE`."""
        return service.get_scheme(key)

    @require_roles("admin")
    @blp.arguments(KpiSchemeSchema)
    @blp.response(200, KpiSchemeSchema)
    def put(self, data, key):
        """Replace a KPI scheme whole (admin; audited)."""
        return service.update_scheme(current_user, key, data)


@blp.route("/engineers/<int:engineer_id>")
class EngineerCardViews(MethodView):
    @require_roles()
    @blp.arguments(KpiPeriodArgs, location="query")
    @blp.response(200, KpiCardSchema)
    def get(self, args, engineer_id):
        """An engineer's KPI card: live for an open month, frozen for a closed one."""
        return service.engineer_card(current_user, engineer_id, args.get("period"))


@blp.route("/engineers/<int:engineer_id>/history")
class EngineerHistoryViews(MethodView):
    @require_roles()
    @blp.arguments(KpiHistoryArgs, location="query")
    @blp.response(200, KpiHistorySchema)
    def get(self, args, engineer_id):
        """An engineer's KPI trend, oldest month first (self, their supervisor, admin).

        Total, pass mark and dimensions of each month: closed months as frozen, the
        current one live and last.
        """
        return service.engineer_history(current_user, engineer_id, args["months"])


@blp.route("/engineers/<int:engineer_id>/records")
class EngineerRecordsViews(MethodView):
    @require_roles()
    @blp.arguments(KpiRecordArgs, location="query")
    @blp.response(200, KpiRecordPageSchema)
    def get(self, args, engineer_id):
        """The records behind one figure of an engineer's card, newest first."""
        return service.metric_records(current_user, engineer_id, args.get("period"),
                                      args["metric"], args["page"], args["per_page"])


@blp.route("/team")
class TeamViews(MethodView):
    @require_roles("supervisor", "admin")
    @blp.arguments(KpiTeamArgs, location="query")
    @blp.response(200, KpiTeamBoardSchema)
    def get(self, args):
        """The team board: a supervisor's team (an admin: everyone), best first."""
        return service.team_board(current_user, args.get("period"), args.get("supervisor_id"))


@blp.route("/export")
class ExportViews(MethodView):
    @require_roles("supervisor", "admin")
    @blp.arguments(KpiExportArgs, location="query")
    @blp.doc(responses=EXPORT_RESPONSES)
    def get(self, args):
        """Export a month's figures as CSV or XLSX, one row per engineer and metric."""
        period, rows = service.export_rows(current_user, args.get("period"), args.get("supervisor_id"))
        if args["format"] == "xlsx":
            body, mimetype = service.to_xlsx(service.EXPORT_COLUMNS, rows), XLSX
        else:
            body, mimetype = service.to_csv(service.EXPORT_COLUMNS, rows), "text/csv; charset=utf-8"
        disposition = f'attachment; filename="kpi-{period}.{args["format"]}"'
        return Response(body, content_type=mimetype, headers={"Content-Disposition": disposition})


@blp.route("/periods/<string:period>/close")
class PeriodCloseViews(MethodView):
    @require_roles("admin")
    @blp.response(200, KpiClosedPeriodSchema)
    def post(self, period):
        """Close a month (admin): every engineer's card is stored and frozen."""
        return service.close_period(current_user, period)
