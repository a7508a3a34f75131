from __future__ import annotations

from marshmallow import fields, validate

from app.api.common import (
    PHONE_DESCRIPTION,
    OptionalText,
    PageArgs,
    PhoneNumber,
    Schema,
    Text,
    UtcDateTime,
)

LAT = validate.Range(min=-90, max=90, error="Must be between -90 and 90.")
LON = validate.Range(min=-180, max=180, error="Must be between -180 and 180.")
RADIUS = validate.Range(min=20, max=5000, error="Must be between 20 and 5000 metres.")


class WholeNumber(fields.Integer):
    """An integer, also from a CSV cell ("150"); 150.5 is refused, not cut to 150."""

    def _validated(self, value) -> int:
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


def _text(max_len: int, **kwargs):
    return Text(validate=validate.Length(min=1, max=max_len), **kwargs)


class SiteContactSchema(Schema):
    """The site's contact, optional; blank or null clears it."""

    contact_name = OptionalText(120, metadata={"description": "Whom to ask for at the site."})
    contact_phone = PhoneNumber(metadata={"description": PHONE_DESCRIPTION})


class SiteSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String()
    customer_name = fields.String()
    address = fields.String()
    lat = fields.Float()
    lon = fields.Float()
    radius_m = fields.Integer()
    contact_name = fields.String(allow_none=True)
    contact_phone = fields.String(allow_none=True)
    created_at = UtcDateTime()


class SiteCreateSchema(SiteContactSchema):
    name = _text(200, required=True)
    customer_name = _text(200, required=True)
    address = _text(500, required=True)
    lat = fields.Float(required=True, validate=LAT, allow_nan=False)
    lon = fields.Float(required=True, validate=LON, allow_nan=False)
    radius_m = WholeNumber(validate=RADIUS, metadata={"description": "Geofence radius; default 150."})


class SitePatchSchema(SiteContactSchema):
    name = _text(200)
    customer_name = _text(200)
    address = _text(500)
    lat = fields.Float(validate=LAT, allow_nan=False)
    lon = fields.Float(validate=LON, allow_nan=False)
    radius_m = WholeNumber(validate=RADIUS)


class SiteListArgs(PageArgs):
    q = fields.String(validate=validate.Length(max=100),
                      metadata={"description": "Part of the name, customer or address."})


class SiteImportFileSchema(Schema):
    file = fields.Raw(metadata={"type": "string", "format": "binary"})


class SiteImportResultSchema(Schema):
    imported = fields.Integer()
    items = fields.List(fields.Nested(SiteSchema))
