from __future__ import annotations

from marshmallow import fields, validate

from app.api.common import ID, CommaList, JsonBoolean, Schema, Text, TimeRangeArgs, UtcDateTime
from app.domain.intake import SOURCE_KEY
from app.models.intake import DELIVERY_OUTCOMES

MAPPING_DESCRIPTION = (
    "Where each job field is found in the desk's JSON payload. Each field takes a JSON "
    "Pointer (`\"/ticket/id\"`) or an object `{path | value, map?, default?}`: `path` is a "
    "JSON Pointer, `value` a constant, `map` translates the desk's values (compared as text) "
    "to ours, `default` is used when the path finds nothing. Fields: `external_id`, `title`, "
    "`priority`, `category`, `site` (required), `description`, `asset_ref`, `reported_at` "
    "(ISO 8601 or Unix seconds; `timezone` reads a time without an offset, as ServiceNow "
    "sends it), `scheduled_for`. `site` yields a site id: from the payload, or through `map` "
    "from the desk's location codes. Long titles and descriptions are cut, not refused."
)

SERVICENOW_MAPPING = {
    "external_id": "/number",
    "title": "/short_description",
    "description": "/description",
    "priority": {"path": "/priority", "map": {"1": "urgent", "2": "high", "3": "normal",
                                              "4": "low", "5": "low"}, "default": "normal"},
    "category": {"path": "/category", "map": {"hardware": "appliance", "network": "network",
                                              "facilities": "hvac"}, "default": "hvac"},
    "site": {"path": "/location/value", "map": {"LOC-SH-0001": 1, "LOC-SH-0002": 2}},
    "reported_at": {"path": "/opened_at", "timezone": "Asia/Shanghai"},
    "scheduled_for": "/u_scheduled_date",
    "asset_ref": "/cmdb_ci/display_value",
}

ZENDESK_MAPPING = {
    "external_id": "/ticket/id",
    "title": "/ticket/subject",
    "description": "/ticket/description",
    "priority": {"path": "/ticket/priority", "default": "normal"},
    "category": {"path": "/ticket/custom_fields/0/value", "default": "appliance"},
    "site": {"path": "/ticket/organization/external_id", "map": {"org-shanghai-lujiazui": 1}},
    "reported_at": "/ticket/created_at",
}


class IntakeSourceSchema(Schema):
    id = fields.Integer(dump_only=True)
    key = fields.String(metadata={"description": "Deliveries go to POST /intake/{key}."})
    name = fields.String()
    mapping = fields.Dict(metadata={"description": MAPPING_DESCRIPTION})
    active = fields.Boolean()
    secret_rotated_at = UtcDateTime()
    previous_secret_expires_at = UtcDateTime(allow_none=True, metadata={
        "description": "Until then the secret before the last rotation is still accepted."})
    created_by_id = fields.Integer(allow_none=True)
    created_at = UtcDateTime()
    updated_at = UtcDateTime()


class NewSecretSchema(IntakeSourceSchema):
    secret = fields.String(allow_none=True, metadata={
        "description": "The signing secret, shown in this answer only (null in a replay)."})


class IntakeSourceCreateSchema(Schema):
    key = fields.String(required=True, validate=validate.Regexp(
        SOURCE_KEY, error="1 to 40 lowercase letters, digits, - or _, starting with a letter or digit."))
    name = Text(required=True, validate=validate.Length(min=1, max=100))
    mapping = fields.Dict(keys=fields.String(validate=validate.Length(max=40)), required=True,
                          metadata={"description": MAPPING_DESCRIPTION,
                                    "example": SERVICENOW_MAPPING})
    active = JsonBoolean(metadata={"description": "Default true."})


class IntakeSourcePatchSchema(Schema):
    name = Text(validate=validate.Length(min=1, max=100))
    mapping = fields.Dict(keys=fields.String(validate=validate.Length(max=40)),
                          metadata={"description": MAPPING_DESCRIPTION})
    active = JsonBoolean(metadata={"description": "false refuses deliveries (403 SOURCE_DISABLED)."})


class RotateSecretSchema(Schema):
    keep_previous_hours = fields.Integer(load_default=0, validate=validate.Range(min=0, max=168),
                                         metadata={"description": "Keep accepting the old secret "
                                                   "this long (0–168 h; default 0: refused at once)."})


class IntakeDeliverySchema(Schema):
    id = fields.Integer()
    source_id = fields.Integer(allow_none=True)
    source_key = fields.String()
    received_at = UtcDateTime()
    outcome = fields.String(metadata={"description": "created, duplicate (the ticket's job "
                                                     "existed) or refused."})
    status = fields.Integer(metadata={"description": "The HTTP status answered."})
    code = fields.String(allow_none=True, metadata={"description": "Why it was refused."})
    detail = fields.String(allow_none=True)
    external_id = fields.String(allow_none=True)
    job_id = fields.Integer(allow_none=True)
    body_sha256 = fields.String()
    body_bytes = fields.Integer()
    remote_addr = fields.String(allow_none=True)


class IntakeDeliveryListArgs(TimeRangeArgs):
    source_id = fields.Integer(validate=ID)
    outcome = CommaList(DELIVERY_OUTCOMES)
    code = fields.String(validate=validate.Length(min=1, max=40))


class IntakeReceiptSchema(Schema):
    delivery_id = fields.Integer()
    job_id = fields.Integer()
    source = fields.String()
    external_id = fields.String()
    outcome = fields.String(metadata={"description": "created (201) or duplicate (200)."})
