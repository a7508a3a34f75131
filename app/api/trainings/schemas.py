from __future__ import annotations

from decimal import Decimal

from marshmallow import ValidationError, fields, validate

from app.api.common import ID, PageArgs, Schema, Text, UtcDateTime

MAX_ATTENDEES = 500


def _hundredths(value: Decimal) -> None:
    # Out of range is the range's error (and 1e999999 cannot be quantized).
    if abs(value) <= 24 and value != value.quantize(Decimal("0.01")):
        raise ValidationError("Give at most 2 decimals.")


class Hours(fields.Decimal):
    """More than 0 and at most 24, to the hundredth (1.25, not 1.255)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(validate=[validate.Range(min=0, min_inclusive=False, max=24), _hundredths],
                         metadata={"example": 1.5, "description": "More than 0, at most 24, "
                                                                  "at most 2 decimals."}, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs) -> float | None:
        return None if value is None else float(value)


class TrainingSchema(Schema):
    id = fields.Integer(dump_only=True)
    title = fields.String()
    held_at = UtcDateTime()
    hours = Hours()
    attendee_ids = fields.List(fields.Integer())
    created_by_id = fields.Integer(allow_none=True)
    created_at = UtcDateTime()


class AttendeeIds(fields.List):
    def __init__(self, **kwargs) -> None:
        super().__init__(fields.Integer(strict=True, validate=ID),
                         validate=validate.Length(min=1, max=MAX_ATTENDEES), metadata={
                             "description": "Active engineers (a supervisor: of their team); "
                                            "each listed once."}, **kwargs)


class TrainingCreateSchema(Schema):
    title = Text(required=True, validate=validate.Length(min=1, max=200))
    held_at = UtcDateTime(required=True, metadata={"description": "Not in the future."})
    hours = Hours(required=True)
    attendee_ids = AttendeeIds(required=True)


class TrainingPatchSchema(Schema):
    title = Text(validate=validate.Length(min=1, max=200))
    held_at = UtcDateTime()
    hours = Hours()
    attendee_ids = AttendeeIds()


class TrainingListArgs(PageArgs):
    from_ = UtcDateTime(data_key="from", metadata={"description": "Held at or after."})
    to = UtcDateTime(metadata={"description": "Held before."})
    engineer_id = fields.Integer(validate=ID, metadata={"description": "Attended by."})
