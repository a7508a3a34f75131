from __future__ import annotations

from marshmallow import fields, validate

from app.api.common import ID, CommaList, PageArgs, Schema, Text, UtcDateTime
from app.models.types import COMPLIANCE_KINDS, SEVERITIES


class ComplianceEventSchema(Schema):
    id = fields.Integer(dump_only=True)
    engineer_id = fields.Integer()
    kind = fields.String()
    severity = fields.String()
    occurred_at = UtcDateTime()
    note = fields.String()
    created_by_id = fields.Integer(allow_none=True)
    created_at = UtcDateTime()


class ComplianceEventCreateSchema(Schema):
    engineer_id = fields.Integer(required=True, strict=True, validate=ID, metadata={
        "description": "An active engineer (a supervisor: of their team)."})
    kind = fields.String(required=True, validate=validate.OneOf(COMPLIANCE_KINDS))
    severity = fields.String(required=True, validate=validate.OneOf(SEVERITIES))
    occurred_at = UtcDateTime(required=True, metadata={"description": "Not in the future."})
    note = Text(required=True, validate=validate.Length(min=1, max=2000))


class ComplianceEventPatchSchema(Schema):
    engineer_id = fields.Integer(strict=True, validate=ID)
    kind = fields.String(validate=validate.OneOf(COMPLIANCE_KINDS))
    severity = fields.String(validate=validate.OneOf(SEVERITIES))
    occurred_at = UtcDateTime()
    note = Text(validate=validate.Length(min=1, max=2000))


class ComplianceEventListArgs(PageArgs):
    engineer_id = fields.Integer(validate=ID)
    kind = CommaList(COMPLIANCE_KINDS)
    from_ = UtcDateTime(data_key="from", metadata={"description": "Occurred at or after."})
    to = UtcDateTime(metadata={"description": "Occurred before."})
