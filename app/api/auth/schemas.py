from __future__ import annotations

from marshmallow import fields, validate

from app.api.common import Schema, UtcDateTime
from app.api.users.schemas import UserSchema


class LoginSchema(Schema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=254))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=200))


class SessionSchema(Schema):
    user = fields.Nested(UserSchema, required=True)
    csrf_token = fields.String(allow_none=True)


class TokenCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))


class TokenSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    prefix = fields.String(metadata={"description": "The token's first characters, to tell tokens apart."})
    created_at = UtcDateTime()
    last_used_at = UtcDateTime(allow_none=True)


class NewTokenSchema(TokenSchema):
    token = fields.String(allow_none=True, metadata={
        "description": "Shown this once; only its digest is kept (null in a replay)."})
