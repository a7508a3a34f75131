from __future__ import annotations

from marshmallow import ValidationError, fields, validate

from app.api.common import JsonBoolean, PageArgs, Schema, Text
from app.domain.jobs import CHECKLIST_MAX_ITEMS, is_key


def _key(value: str) -> None:
    if not is_key(value):
        raise ValidationError("Use snake_case, at most 40 characters.")


def _unique(values: list[str]) -> None:
    if len(set(values)) != len(values):
        raise ValidationError("Each item may appear once.")


class CategorySchema(Schema):
    key = fields.String()
    name = fields.String()
    checklist = fields.List(fields.String())
    signature_required = fields.Boolean()


class CategoryPutSchema(Schema):
    name = Text(required=True, validate=validate.Length(min=1, max=100))
    checklist = fields.List(
        fields.String(validate=_key), required=True,
        validate=[validate.Length(min=1, max=CHECKLIST_MAX_ITEMS), _unique],
        metadata={"description": "The item keys a close must answer, 1 to 20, snake_case."},
    )
    signature_required = JsonBoolean(required=True)


class CategoryListArgs(PageArgs):
    pass
