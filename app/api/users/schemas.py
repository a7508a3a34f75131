from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from app.api.common import ID, PHONE_DESCRIPTION, PageArgs, PhoneNumber, Schema, UtcDateTime
from app.domain.people import role_field_errors
from app.models.types import LEVELS, ROLES, WORK_TYPES

LOCALES = ("en", "zh-CN")
PASSWORD = validate.Length(min=10, max=200, error="Use 10 to 200 characters.")


def _not_blank(value: str) -> None:
    # The name is stored stripped: spaces alone would leave it empty.
    if not value.strip():
        raise ValidationError("Must not be blank.")


NAME = [validate.Length(min=1, max=120), _not_blank]


def _home_site() -> fields.Integer:
    return fields.Integer(allow_none=True, strict=True, validate=ID, metadata={
        "description": "Engineers only: the site they start from (dispatch suggestions)."})


def _phone() -> PhoneNumber:
    return PhoneNumber(metadata={"description": PHONE_DESCRIPTION + " Blank or null clears it."})


class UserSchema(Schema):
    id = fields.Integer(dump_only=True)
    email = fields.String()
    name = fields.String()
    role = fields.String()
    level = fields.String(allow_none=True)
    work_type = fields.String(allow_none=True)
    supervisor_id = fields.Integer(allow_none=True)
    home_site_id = fields.Integer(allow_none=True, metadata={
        "description": "Where the engineer starts from when no position of theirs is known."})
    locale = fields.String(allow_none=True)
    phone = fields.String(allow_none=True, metadata={
        "description": "Where to call them; null when not given."})
    active = fields.Boolean()
    created_at = UtcDateTime()


class UserCreateSchema(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    name = fields.String(required=True, validate=NAME)
    password = fields.String(required=True, load_only=True, validate=PASSWORD)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    level = fields.String(validate=validate.OneOf(LEVELS), allow_none=True)
    work_type = fields.String(validate=validate.OneOf(WORK_TYPES), allow_none=True)
    supervisor_id = fields.Integer(allow_none=True, validate=ID)
    home_site_id = _home_site()
    locale = fields.String(validate=validate.OneOf(LOCALES), allow_none=True)
    phone = _phone()

    @validates_schema
    def engineer_fields(self, data, **kwargs):
        errors = role_field_errors(data)
        if errors:
            raise ValidationError(errors)


class UserPatchSchema(Schema):
    """Admins may change every field; anyone else only their own name, password, locale
    and phone."""

    email = fields.Email(validate=validate.Length(max=254))
    name = fields.String(validate=NAME)
    password = fields.String(load_only=True, validate=PASSWORD)
    current_password = fields.String(load_only=True, validate=validate.Length(max=200))
    role = fields.String(validate=validate.OneOf(ROLES))
    level = fields.String(validate=validate.OneOf(LEVELS), allow_none=True)
    work_type = fields.String(validate=validate.OneOf(WORK_TYPES), allow_none=True)
    supervisor_id = fields.Integer(allow_none=True, validate=ID)
    home_site_id = _home_site()
    locale = fields.String(validate=validate.OneOf(LOCALES), allow_none=True)
    phone = _phone()
    active = fields.Boolean()


class UserListArgs(PageArgs):
    role = fields.String(validate=validate.OneOf(ROLES))
    active = fields.Boolean()
