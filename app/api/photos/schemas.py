from __future__ import annotations

from flask import request, url_for
from marshmallow import fields, pre_load, validate
from werkzeug.datastructures import FileStorage

from app.api.common import Schema, UtcDateTime
from app.models.types import PHOTO_KINDS


class Upload(fields.Field):
    """A file part of a multipart body (not a text field that happens to share its name)."""

    default_error_messages = {"not_a_file": "Send the image as a file part."}

    def _deserialize(self, value, attr, data, **kwargs) -> FileStorage:
        if not isinstance(value, FileStorage):
            raise self.make_error("not_a_file")
        if not value.filename and not value.content_length and value.stream.read(1) == b"":
            # A form sent with no file chosen: an empty part without a name.
            raise self.make_error("required")
        value.stream.seek(0)
        return value


class CasePhotoUploadSchema(Schema):
    """An image upload: a knowledge case's photo (a job's photo adds its kind)."""

    file = Upload(required=True, metadata={"type": "string", "format": "binary",
                                           "description": "JPEG, PNG, WebP or HEIC/HEIF."})

    @pre_load
    def with_files(self, data, **kwargs):
        """A multipart body is one body: its file parts join its text fields."""
        return {**data, **request.files.to_dict()}


class PhotoUploadSchema(CasePhotoUploadSchema):
    kind = fields.String(required=True, validate=validate.OneOf(PHOTO_KINDS))


class GpsSchema(Schema):
    lat = fields.Float()
    lon = fields.Float()


class PhotoSchema(Schema):
    id = fields.Integer()
    job_id = fields.Integer()
    visit_id = fields.Integer(allow_none=True)
    kind = fields.String()
    sha256 = fields.String()
    width = fields.Integer()
    height = fields.Integer()
    taken_at = UtcDateTime(allow_none=True)
    gps = fields.Method("_gps", metadata={"type": "object", "nullable": True,
                                          "properties": {"lat": {"type": "number"},
                                                         "lon": {"type": "number"}}})
    flags = fields.List(fields.String())
    thumb_url = fields.Function(lambda photo: url_for("photos.PhotoThumbViews", photo_id=photo.id),
                                metadata={"type": "string"})
    image_url = fields.Function(lambda photo: url_for("photos.PhotoImageViews", photo_id=photo.id),
                                metadata={"type": "string"})
    created_at = UtcDateTime()

    def _gps(self, photo):
        if photo.gps_lat is None or photo.gps_lon is None:
            return None
        return {"lat": photo.gps_lat, "lon": photo.gps_lon}


