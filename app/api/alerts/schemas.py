from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from app.api.common import ID, CommaList, PageArgs, Schema, UtcDateTime
from app.domain.alerts import MAX_TERM_LENGTH, MAX_TERMS, watch_list_errors
from app.models.types import ALERT_KINDS


class AlertSchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"enum": list(ALERT_KINDS)})
    engineer_id = fields.Integer(allow_none=True)
    job_id = fields.Integer(allow_none=True)
    feedback_id = fields.Integer(allow_none=True)
    matched = fields.List(fields.String(), metadata={"description": "The watch-list terms found."})
    detail = fields.String()
    created_at = UtcDateTime()
    dismissed_at = UtcDateTime(allow_none=True)
    dismissed_by_id = fields.Integer(allow_none=True)


class AlertListArgs(PageArgs):
    kind = CommaList(ALERT_KINDS)
    engineer_id = fields.Integer(validate=ID)
    job_id = fields.Integer(validate=ID)
    dismissed = fields.Boolean(load_default=False, metadata={
        "description": "false (default): the open warnings; true: those dismissed."})
    from_ = UtcDateTime(data_key="from", metadata={"description": "Raised at or after."})
    to = UtcDateTime(metadata={"description": "Raised before."})


class WatchListSchema(Schema):
    terms = fields.List(
        fields.String(validate=validate.Length(max=MAX_TERM_LENGTH)), required=True,
        validate=validate.Length(min=1, max=MAX_TERMS, error=f"Give 1 to {MAX_TERMS} terms."),
        metadata={"description": "Case-insensitive; Latin-script terms match whole words, "
                                 "Chinese terms anywhere, digit-only terms whole numbers."},
    )

    @validates_schema
    def terms_distinct_and_not_blank(self, data, **kwargs):
        errors = watch_list_errors(data.get("terms") or [])
        if errors:
            raise ValidationError({"terms": errors})
