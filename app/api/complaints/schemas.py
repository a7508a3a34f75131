from __future__ import annotations

from marshmallow import fields, pre_dump, validate

from app.api.common import ID, Schema, Text, TimeRangeArgs, UtcDateTime


class ComplaintSchema(Schema):
    id = fields.Integer()
    job_id = fields.Integer()
    engineer_id = fields.Integer(allow_none=True, metadata={"description": "The job's engineer."})
    detail = fields.String()
    received_at = UtcDateTime()
    created_by_id = fields.Integer(allow_none=True)
    resolution = fields.String(allow_none=True)
    resolved_at = UtcDateTime(allow_none=True)
    resolved_by_id = fields.Integer(allow_none=True)
    created_at = UtcDateTime()

    @pre_dump
    def flatten(self, row, **kwargs):
        """The services give (complaint, engineer_id) rows."""
        complaint, engineer_id = row
        values = {name: getattr(complaint, name) for name in self.fields if name != "engineer_id"}
        return {**values, "engineer_id": engineer_id}


class ComplaintCreateSchema(Schema):
    detail = Text(required=True, validate=validate.Length(min=1, max=5000))
    received_at = UtcDateTime(metadata={"description": "When the customer complained; default now."})


class ComplaintResolveSchema(Schema):
    resolution = Text(required=True, validate=validate.Length(min=1, max=5000))


class ComplaintListArgs(TimeRangeArgs):
    engineer_id = fields.Integer(validate=ID)
    job_id = fields.Integer(validate=ID)
    resolved = fields.Boolean()
