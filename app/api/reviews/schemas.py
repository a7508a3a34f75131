from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from app.api.common import ID, Day, JsonBoolean, PageArgs, Schema, Text, UtcDateTime
from app.domain.kpi import METRICS_BY_KEY

PERIOD = validate.Regexp(r"^20[0-9]{2}-(0[1-9]|1[0-2])$", error="Use YYYY-MM from 2000 to 2099, e.g. 2026-11.")
MAX_ACTION_ITEMS = 20
LONG_TEXT = 10_000

# The range a target may take, by the metric's unit (kpi.md's metric table).
TARGET_RANGES = {"%": (0, 100), "points": (-100, 100), "1–5": (1, 5)}
DEFAULT_RANGE = (0, None)  # minutes and counts


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be blank.")


class TargetValue(fields.Float):
    """A JSON number: not a string, not true/false, not NaN or infinity."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class ActionItemSchema(Schema):
    id = fields.Integer(dump_only=True)
    title = Text(required=True, validate=[validate.Length(max=200), _not_blank])
    due_date = Day(required=True)
    done = fields.Boolean(dump_only=True)
    done_at = UtcDateTime(dump_only=True, allow_none=True)
    done_by_id = fields.Integer(dump_only=True, allow_none=True)


class ReviewSchema(Schema):
    id = fields.Integer()
    engineer_id = fields.Integer()
    supervisor_id = fields.Integer(metadata={"description": "Who held the review."})
    period = fields.String()
    summary = fields.String()
    strengths = fields.String(allow_none=True)
    improvements = fields.String(allow_none=True)
    action_items = fields.List(fields.Nested(ActionItemSchema))
    next_targets = fields.Dict(keys=fields.String(), values=fields.Float(), allow_none=True)
    acknowledged_at = UtcDateTime(allow_none=True)
    created_at = UtcDateTime()


class ReviewCreateSchema(Schema):
    engineer_id = fields.Integer(required=True, strict=True, validate=ID)
    period = fields.String(required=True, validate=PERIOD,
                           metadata={"description": "YYYY-MM, this month or an earlier one."})
    summary = Text(required=True, validate=[validate.Length(max=LONG_TEXT), _not_blank])
    strengths = Text(allow_none=True, validate=validate.Length(max=LONG_TEXT))
    improvements = Text(allow_none=True, validate=validate.Length(max=LONG_TEXT))
    action_items = fields.List(
        fields.Nested(ActionItemSchema), required=True,
        validate=validate.Length(max=MAX_ACTION_ITEMS, error=f"At most {MAX_ACTION_ITEMS} action items."),
    )
    next_targets = fields.Dict(
        keys=fields.String(validate=validate.OneOf(sorted(METRICS_BY_KEY))),
        values=TargetValue(allow_nan=False), allow_none=True,
        metadata={"description": "Next month's targets by KPI metric key."},
    )

    @validates_schema
    def targets_in_range(self, data, **kwargs):
        errors = {}
        for key, value in (data.get("next_targets") or {}).items():
            low, high = TARGET_RANGES.get(METRICS_BY_KEY[key].unit, DEFAULT_RANGE)
            if value < low or (high is not None and value > high):
                bound = f"between {low} and {high}" if high is not None else f"at least {low}"
                errors[key] = [f"Must be {bound}."]
        if errors:
            raise ValidationError({"next_targets": errors})


class ActionItemPatchSchema(Schema):
    done = JsonBoolean(required=True)


class ReviewListArgs(PageArgs):
    engineer_id = fields.Integer(validate=ID)
    period = fields.String(validate=PERIOD)
