from __future__ import annotations

from marshmallow import fields, validate

from app.api.common import PageArgs, PageMeta, QueryArgs, Schema, UtcDateTime
from app.domain.kpi import DIMENSIONS, METRICS

PERIOD = fields.String(
    validate=validate.Regexp(r"^20[0-9]{2}-(0[1-9]|1[0-2])$", error="Must be a month YYYY-MM from 2000 to 2099."),
    metadata={"description": "A month YYYY-MM in the organisation's time zone; "
                             "default: the current month.", "example": "2026-11"},
)
METRIC_KEYS = tuple(m.key for m in METRICS)


# --- Schemes -------------------------------------------------------------------------
# Values are taken as given and checked by the domain's validate_scheme, which names every
# broken rule (`metrics.3.floor`); the schema only refuses unknown and missing fields.


class KpiSchemeMetricSchema(Schema):
    key = fields.Raw(required=True, metadata={"type": "string", "enum": list(METRIC_KEYS)})
    weight = fields.Raw(required=True, metadata={"type": "number", "minimum": 0})
    target = fields.Raw(required=True, metadata={"type": "number"})
    floor = fields.Raw(required=True, metadata={"type": "number"})
    min_samples = fields.Raw(metadata={"type": "integer", "minimum": 1,
                                       "description": "Default 3 for nps, 1 otherwise."})


class KpiSchemeSchema(Schema):
    key = fields.String(metadata={"description": "LEVEL-WORKTYPE; the URL's key when left out."})
    pass_score = fields.Raw(required=True, metadata={"type": "number", "minimum": 0, "maximum": 100})
    metrics = fields.List(fields.Nested(KpiSchemeMetricSchema), required=True,
                          metadata={"description": "Weights sum to 100; metrics not listed weigh 0."})


class KpiSchemePageSchema(PageMeta):
    items = fields.List(fields.Nested(KpiSchemeSchema), required=True)


class KpiMetricDefinitionSchema(Schema):
    key = fields.String(required=True, metadata={"enum": list(METRIC_KEYS)})
    dimension = fields.String(required=True, metadata={"enum": list(DIMENSIONS)})
    unit = fields.String(required=True, metadata={"example": "min"})
    better = fields.String(required=True, metadata={"enum": ["higher", "lower"]})
    kind = fields.String(required=True, metadata={"enum": ["mean", "rate", "count"],
                                                  "description": "How records make the figure."})


class KpiMetricListSchema(Schema):
    dimensions = fields.List(fields.String(), required=True,
                             metadata={"description": "The five dimensions, in kpi.md's order."})
    items = fields.List(fields.Nested(KpiMetricDefinitionSchema), required=True,
                        metadata={"description": "Every metric, in kpi.md's order."})


# --- The card ------------------------------------------------------------------------


class KpiPeriodArgs(QueryArgs):
    period = PERIOD


class KpiCardMetricSchema(Schema):
    key = fields.String()
    dimension = fields.String()
    unit = fields.String()
    better = fields.String()
    value = fields.Float(allow_none=True)
    n = fields.Integer()
    has_data = fields.Boolean()
    target = fields.Float(allow_none=True)
    floor = fields.Float(allow_none=True)
    weight = fields.Float()
    score = fields.Float(allow_none=True)
    gap = fields.Float(allow_none=True)


DimensionsSchema = Schema.from_dict(
    {d: fields.Float(allow_none=True) for d in DIMENSIONS}, name="KpiDimensionsSchema"
)


class KpiCardSchema(Schema):
    engineer_id = fields.Integer()
    period = fields.String()
    scheme = fields.String()
    live = fields.Boolean()
    frozen = fields.Boolean()
    metrics = fields.List(fields.Nested(KpiCardMetricSchema))
    dimensions = fields.Nested(DimensionsSchema)
    total_score = fields.Float(allow_none=True)
    pass_score = fields.Float()
    meets_target = fields.Boolean()
    rank = fields.Integer(allow_none=True)
    ranked = fields.Integer()
    bonus_eligible = fields.Boolean()
    streak_months = fields.Integer()
    promotion_priority = fields.Boolean()


class KpiHistoryArgs(QueryArgs):
    months = fields.Integer(load_default=6, validate=validate.Range(min=1, max=24), metadata={
        "description": "How many months, the current one included: 1 to 24 (default 6)."})


class KpiHistoryItemSchema(Schema):
    period = fields.String()
    scheme = fields.String()
    live = fields.Boolean(metadata={"description": "The current month, computed now."})
    frozen = fields.Boolean(metadata={"description": "A closed month: its card as frozen."})
    total_score = fields.Float(allow_none=True)
    pass_score = fields.Float()
    meets_target = fields.Boolean()
    dimensions = fields.Nested(DimensionsSchema)


class KpiHistorySchema(Schema):
    engineer_id = fields.Integer()
    months = fields.Integer()
    items = fields.List(fields.Nested(KpiHistoryItemSchema), metadata={
        "description": "Oldest first; the current month last."})


# --- The records behind a figure -----------------------------------------------------


class KpiRecordArgs(PageArgs):
    period = PERIOD
    metric = fields.String(required=True, validate=validate.OneOf(METRIC_KEYS))


class KpiRecordSchema(Schema):
    type = fields.String(metadata={"description": "job, visit, feedback, complaint, training, "
                                                  "knowledge_item or compliance_event"})
    id = fields.Integer()
    job_id = fields.Integer(allow_none=True)
    at = UtcDateTime(metadata={"description": "The time that puts the record in the period."})
    value = fields.Float(allow_none=True, metadata={
        "description": "The record's part of the figure: minutes; 100 or 0 for a rate; "
                       "+100, 0 or -100 for nps; the quality for case_quality; 1 for a count."})
    facts = fields.Dict(keys=fields.String(), metadata={
        "description": "What the value was worked out from (times, score, checklist…)."})


class KpiRecordPageSchema(PageMeta):
    engineer_id = fields.Integer()
    period = fields.String()
    metric = fields.String()
    frozen = fields.Boolean()
    value = fields.Float(allow_none=True, metadata={"description": "The raw figure of these records."})
    n = fields.Integer()
    items = fields.List(fields.Nested(KpiRecordSchema), required=True)


# --- The team board and the export ---------------------------------------------------


class KpiTeamArgs(QueryArgs):
    period = PERIOD
    supervisor_id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1),
                                   metadata={"description": "Only this supervisor's team."})


class KpiExportArgs(KpiTeamArgs):
    format = fields.String(load_default="csv", validate=validate.OneOf(("csv", "xlsx")))


class KpiTeamItemSchema(Schema):
    engineer_id = fields.Integer()
    name = fields.String()
    level = fields.String()
    work_type = fields.String()
    total_score = fields.Float(allow_none=True)
    rank = fields.Integer(allow_none=True)
    meets_target = fields.Boolean()
    bonus_eligible = fields.Boolean()
    streak_months = fields.Integer()
    promotion_priority = fields.Boolean()
    dimensions = fields.Nested(DimensionsSchema)


class KpiTeamBoardSchema(Schema):
    period = fields.String()
    live = fields.Boolean()
    frozen = fields.Boolean()
    ranked = fields.Integer()
    items = fields.List(fields.Nested(KpiTeamItemSchema))


# --- The monthly close ---------------------------------------------------------------


class KpiClosedPeriodSchema(Schema):
    period = fields.String()
    timezone = fields.String()
    closed_at = UtcDateTime()
    closed_by_id = fields.Integer()
    engineers = fields.Integer(metadata={"description": "Cards stored."})
    ranked = fields.Integer()
