from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from app.api.common import ID, CommaList, OptionalText, PageArgs, Schema, UtcDateTime
from app.api.reviews.schemas import ActionItemSchema
from app.domain.alerts import MAX_TERM_LENGTH, MAX_TERMS, watch_list_errors
from app.models.types import ALERT_KINDS


PARAMS_DESCRIPTION = (
    "The figures the reason is worded from, by kind: NEGATIVE_FEEDBACK {job_id, feedback_id, "
    "score, comment}; KEYWORD {source: feedback|job_description|job_resolution, job_id, "
    "feedback_id?, terms, excerpt}; SLA_RISK {job_id, priority, limit_minutes, due_at}; "
    "FLAG_PATTERN {count, days, until, visit_ids}.")


class AlertSchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"enum": list(ALERT_KINDS),
                                   "description": "Stable: the app words the reason from it."})
    params = fields.Dict(keys=fields.String(), metadata={"description": PARAMS_DESCRIPTION})
    engineer_id = fields.Integer(allow_none=True)
    job_id = fields.Integer(allow_none=True)
    visit_id = fields.Integer(allow_none=True, metadata={
        "description": "FLAG_PATTERN: the latest of its visits."})
    feedback_id = fields.Integer(allow_none=True)
    matched = fields.List(fields.String(), metadata={"description": "The watch-list terms found."})
    reason = fields.Function(lambda alert: alert.detail, metadata={
        "type": "string", "description": "The reason in English, worded from params (as detail)."})
    detail = fields.String(metadata={"description": "The reason in English (as reason)."})
    created_at = UtcDateTime()
    dismissed_at = UtcDateTime(allow_none=True)
    dismissed_by_id = fields.Integer(allow_none=True)
    dismiss_note = fields.String(allow_none=True)
    action_item_id = fields.Integer(allow_none=True, metadata={
        "description": "The review action item the alert was turned into."})


class AlertDismissSchema(Schema):
    note = OptionalText(2000, metadata={"description": "Why it needs no action."})


class AlertActionItemSchema(ActionItemSchema):
    review_id = fields.Integer(required=True, strict=True, validate=ID, metadata={
        "description": "A review of the alert's engineer, in your team."})


class AlertWithReviewSchema(AlertSchema):
    review_id = fields.Integer(metadata={"description": "The review holding the action item."})


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
