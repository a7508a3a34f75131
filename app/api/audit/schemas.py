from __future__ import annotations

from marshmallow import fields, validate

from app.api.common import ID, PageArgs, Schema, UtcDateTime


class AuditEntrySchema(Schema):
    id = fields.Integer()
    at = UtcDateTime()
    actor_id = fields.Integer(allow_none=True)
    action = fields.String()
    target_type = fields.String()
    target_id = fields.Integer(allow_none=True)
    detail = fields.Dict()
    hash = fields.String()
    prev_hash = fields.String()


class AuditListArgs(PageArgs):
    target_type = fields.String(validate=validate.Length(min=1, max=40))
    target_id = fields.Integer(validate=ID)
    action = fields.String(validate=validate.Length(min=1, max=60))
