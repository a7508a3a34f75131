from __future__ import annotations

from flask import url_for
from marshmallow import fields, validate

from app.api.common import ID, CommaList, OptionalText, PageArgs, Schema, Text, UtcDateTime
from app.domain.search import normalise_tag
from app.models.types import KNOWLEDGE_KINDS, KNOWLEDGE_STATUSES

MAX_TAGS = 10
TAG_LENGTH = validate.Length(min=1, max=30)


class Tag(fields.String):
    """A tag as stored: trimmed, lower-case (NFKC), 1–30 characters after that."""

    def __init__(self, **kwargs) -> None:
        super().__init__(validate=TAG_LENGTH, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        return normalise_tag(super()._deserialize(value, attr, data, **kwargs))


class Tags(fields.List):
    """At most 10 tags; repeats (after normalising, "AC" and " ac ") are kept once."""

    def __init__(self, **kwargs) -> None:
        super().__init__(Tag(), validate=validate.Length(max=MAX_TAGS), **kwargs)
        self.metadata.setdefault("description", "At most 10, each 1–30 characters; "
                                                "stored trimmed and lower-case, each once.")

    def _deserialize(self, value, attr, data, **kwargs) -> list[str]:
        return list(dict.fromkeys(super()._deserialize(value, attr, data, **kwargs)))


class CasePhotoSchema(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    uploaded_by_id = fields.Integer()
    content_type = fields.String(metadata={"description": "Of the original as uploaded."})
    sha256 = fields.String()
    width = fields.Integer()
    height = fields.Integer()
    taken_at = UtcDateTime(allow_none=True)
    thumb_url = fields.Function(
        lambda photo: url_for("photos.CasePhotoThumbViews", case_id=photo.case_id, photo_id=photo.id),
        metadata={"type": "string"})
    image_url = fields.Function(
        lambda photo: url_for("photos.CasePhotoImageViews", case_id=photo.case_id, photo_id=photo.id),
        metadata={"type": "string"})
    created_at = UtcDateTime()


class CaseSchema(Schema):
    id = fields.Integer(dump_only=True)
    kind = fields.String()
    title = fields.String()
    symptom = fields.String(allow_none=True)
    cause = fields.String(allow_none=True)
    solution = fields.String()
    tags = fields.List(fields.String())
    job_id = fields.Integer(allow_none=True)
    author_id = fields.Integer()
    status = fields.String()
    quality = fields.Integer(allow_none=True)
    review_note = fields.String(allow_none=True)
    reviewed_by_id = fields.Integer(allow_none=True)
    reviewed_at = UtcDateTime(allow_none=True)
    photos = fields.List(fields.Nested(CasePhotoSchema), dump_only=True,
                         metadata={"description": "Oldest first."})
    created_at = UtcDateTime()
    updated_at = UtcDateTime()


class CaseCreateSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(KNOWLEDGE_KINDS))
    title = Text(required=True, validate=validate.Length(min=1, max=200))
    symptom = OptionalText(5000)
    cause = OptionalText(5000)
    solution = Text(required=True, validate=validate.Length(min=1, max=10000))
    tags = Tags(required=True)
    job_id = fields.Integer(strict=True, allow_none=True, validate=ID,
                            metadata={"description": "A job the author may see."})


class CasePatchSchema(Schema):
    kind = fields.String(validate=validate.OneOf(KNOWLEDGE_KINDS))
    title = Text(validate=validate.Length(min=1, max=200))
    symptom = OptionalText(5000)
    cause = OptionalText(5000)
    solution = Text(validate=validate.Length(min=1, max=10000))
    tags = Tags()
    job_id = fields.Integer(strict=True, allow_none=True, validate=ID)


class CaseReviewSchema(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(("approve", "reject")))
    quality = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=5))
    note = OptionalText(2000)


class CaseListArgs(PageArgs):
    q = fields.String(validate=validate.Length(max=100), metadata={
        "description": "Words of the title, symptom, cause, solution or tags, Chinese "
                       "included (漏水 finds 空调室内机漏水处理); every word must match. "
                       "Best matches first, the title counting most."})
    tag = Tag()
    status = CommaList(KNOWLEDGE_STATUSES)
    kind = fields.String(validate=validate.OneOf(KNOWLEDGE_KINDS))
    author_id = fields.Integer(validate=ID)
