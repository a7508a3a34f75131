from __future__ import annotations

from marshmallow import fields, validate

from app.api.common import ID, Schema, Text, TimeRangeArgs, UtcDateTime


class FeedbackLinkSchema(Schema):
    url = fields.String(metadata={"description": "The customer's page; its last segment is the token."})
    expires_at = UtcDateTime()


class FeedbackCreateSchema(Schema):
    # strict: 7, not "7", 7.0 or 7.5 (and never true, which marshmallow refuses anyway).
    score = fields.Integer(required=True, strict=True,
                           validate=validate.Range(min=0, max=10, error="Must be a whole number from 0 to 10."))
    comment = Text(allow_none=True, validate=validate.Length(max=2000))


class FeedbackSchema(Schema):
    id = fields.Integer()
    score = fields.Integer()
    comment = fields.String(allow_none=True)
    submitted_at = UtcDateTime()


class PublicJobSchema(Schema):
    title = fields.String()


class PublicSiteSchema(Schema):
    name = fields.String()
    address = fields.String()


class PublicEngineerSchema(Schema):
    name = fields.String(allow_none=True, metadata={"description": "A display name only."})


class FeedbackLinkViewSchema(Schema):
    """All that a token shows: no ids, no contact details."""

    job = fields.Nested(PublicJobSchema)
    site = fields.Nested(PublicSiteSchema)
    engineer = fields.Nested(PublicEngineerSchema)
    expires_at = UtcDateTime()


class FeedbackJobSchema(Schema):
    id = fields.Integer()
    title = fields.String()
    engineer_id = fields.Integer(allow_none=True)
    site_id = fields.Integer()


class FeedbackItemSchema(Schema):
    """A (Feedback, Job) row of the list."""

    id = fields.Integer(attribute="Feedback.id")
    job_id = fields.Integer(attribute="Feedback.job_id")
    score = fields.Integer(attribute="Feedback.score")
    comment = fields.String(attribute="Feedback.comment", allow_none=True)
    submitted_at = UtcDateTime(attribute="Feedback.submitted_at")
    job = fields.Nested(FeedbackJobSchema, attribute="Job")


class FeedbackListArgs(TimeRangeArgs):
    """`from`/`to` apply to `submitted_at`."""

    engineer_id = fields.Integer(validate=ID)
    job_id = fields.Integer(validate=ID)
