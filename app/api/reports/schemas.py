from __future__ import annotations

from marshmallow import fields, validate

from app.api.common import QueryArgs, Schema, UtcDateTime
from app.domain.reports import REPORT_METRICS

WEEK = fields.String(
    validate=validate.Regexp(r"^20[0-9]{2}-W(0[1-9]|[1-4][0-9]|5[0-3])$",
                             error="Must be an ISO week YYYY-Www (W01–W53) from 2000 to 2099."),
    metadata={"description": "An ISO week YYYY-Www, Monday to Monday in the organisation's "
                             "time zone; default: the last whole week.", "example": "2026-W49"},
)


class WeeklyReportArgs(QueryArgs):
    week = WEEK
    supervisor_id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1), metadata={
        "description": "An admin: this supervisor's team instead of the company. "
                       "A supervisor: only their own id (their team is the default)."})


class WeeklyReportPdfArgs(WeeklyReportArgs):
    lang = fields.String(load_default="zh-CN", validate=validate.OneOf(("zh-CN", "en")),
                         metadata={"description": "The language of the PDF's labels."})


class ReportFigureSchema(Schema):
    value = fields.Float(allow_none=True, metadata={"description": "None: no records."})
    n = fields.Integer(metadata={"description": "The records behind the value."})


class ReportKpiSchema(Schema):
    key = fields.String(metadata={"enum": list(REPORT_METRICS)})
    unit = fields.String()
    better = fields.String(metadata={"enum": ["higher", "lower"]})
    week = fields.Nested(ReportFigureSchema)
    previous_week = fields.Nested(ReportFigureSchema)
    change = fields.Float(allow_none=True, metadata={"description": "week − previous week."})
    month_to_date = fields.Nested(ReportFigureSchema)
    month_target = fields.Float(allow_none=True, metadata={
        "description": "The mean of the engineers' scheme targets (a count: their sum)."})


class ReportActivitySchema(Schema):
    key = fields.String(metadata={"enum": ["jobs_reported", "jobs_closed", "visits",
                                           "flagged_visits", "approved", "rejected"]})
    week = fields.Integer()
    previous_week = fields.Integer()
    change = fields.Integer()


class ReportBelowTargetSchema(Schema):
    engineer_id = fields.Integer()
    name = fields.String()
    total_score = fields.Float()
    pass_score = fields.Float()
    points_below = fields.Float()


class ReportAlertsSchema(Schema):
    total = fields.Integer()
    by_kind = fields.Dict(keys=fields.String(), values=fields.Integer())


class WeeklyReportSchema(Schema):
    scope = fields.String(metadata={"enum": ["company", "team"]})
    supervisor_id = fields.Integer(allow_none=True)
    supervisor_name = fields.String(allow_none=True)
    week = fields.String(metadata={"example": "2026-W49"})
    timezone = fields.String()
    starts_at = UtcDateTime()
    ends_at = UtcDateTime()
    previous_week = fields.String()
    month = fields.String(metadata={"description": "The month the week ends in (YYYY-MM)."})
    engineers = fields.Integer()
    activity = fields.List(fields.Nested(ReportActivitySchema))
    kpis = fields.List(fields.Nested(ReportKpiSchema))
    below_target = fields.List(fields.Nested(ReportBelowTargetSchema), metadata={
        "description": "The engineers furthest below their pass mark this month (live card)."})
    open_alerts = fields.Nested(ReportAlertsSchema)
