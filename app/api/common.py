"""What every resource's schemas and routes share: time fields, paging, the envelope."""
from __future__ import annotations

import io
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any, BinaryIO

import marshmallow as ma
import sqlalchemy as sa
from marshmallow import fields, validate

from app.domain import calendar
from app.extensions import db
from app.models.types import utc_text


# Ids are 32-bit in the database: a larger one names nothing and must be refused before
# it reaches the driver (SQLite cannot bind it, PostgreSQL answers "out of range").
MAX_ID = 2**31 - 1
ID = validate.Range(min=1, max=MAX_ID)

# Endpoints that take a body other than JSON (uploads, CSV), by endpoint name.
BODY_TYPES: dict[str, tuple[str, ...]] = {}


def accepts_body(endpoint: str, *mimetypes: str) -> None:
    """Declare that `endpoint` takes these body types instead of JSON (415 otherwise)."""
    BODY_TYPES[endpoint] = mimetypes


# Serializers written out by hand where a schema's dump costs too much (a busy route):
# each names the schema whose output it writes, and tests/api/test_written_out.py holds
# every one of them to that schema's fields, so that a field is added in one place.
WRITTEN_OUT: dict[Callable[..., dict[str, Any]], type[ma.Schema]] = {}


def written_out(schema: type[ma.Schema]) -> Callable:
    """Register a hand-written serializer as `schema`'s output (see WRITTEN_OUT)."""

    def register(serializer: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        WRITTEN_OUT[serializer] = schema
        return serializer

    return register


# The request body of a CSV import: the file as a form field, or the CSV itself.
CSV_UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {"type": "object", "required": ["file"],
                       "properties": {"file": {"type": "string", "format": "binary"}}}
        },
        "text/csv": {"schema": {"type": "string"}},
    },
}


def csv_upload() -> BinaryIO:
    """The uploaded CSV (form field `file`, or the body) as a stream of bytes, from its start."""
    from flask import request

    from app.errors import Invalid

    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise Invalid("Attach the CSV as the form field `file`.",
                          {"file": ["Missing data for required field."]})
        upload.stream.seek(0)
        return upload.stream
    return io.BytesIO(request.get_data(cache=True))


# Characters no text of the product holds: NUL (no database column can hold it), the
# other C0 controls but tab, line feed and carriage return (XML, and so XLSX, forbids
# them), and UTF-16 surrogates without their pair (no UTF-8 encoding exists for them).
# Refused at input, wherever they come (JSON, query, form), so nothing stored holds one.
FORBIDDEN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
FORBIDDEN_TEXT_MESSAGE = "Must not contain control characters or unpaired surrogates."


def text_errors(value: Any, path: str = "") -> dict[str, list[str]]:
    """The paths (`items.2.name`) of every string, key or value, holding a forbidden
    character; walked without recursion, so that no nesting can exhaust the stack."""
    errors: dict[str, list[str]] = {}
    pending: list[tuple[Any, str]] = [(value, path)]
    while pending:
        item, where = pending.pop()
        if isinstance(item, str):
            if FORBIDDEN_TEXT.search(item):
                errors[where or "_schema"] = [FORBIDDEN_TEXT_MESSAGE]
        elif isinstance(item, Mapping):
            for key, child in item.items():
                pending.append((key, where or "_schema"))
                pending.append((child, f"{where}.{key}" if where else str(key)))
        elif isinstance(item, list | tuple):
            pending.extend((child, f"{where}.{index}" if where else str(index))
                           for index, child in enumerate(item))
    return errors


class _RefuseForbiddenText:
    @ma.pre_load
    def refuse_forbidden_text(self, data, **kwargs):
        # Query strings and forms come as multi-dicts: look at every value of each key.
        getlist = getattr(data, "getlist", None)
        errors = text_errors({key: getlist(key) for key in data} if getlist else data)
        if errors:
            raise ma.ValidationError(errors)
        return data


class Schema(_RefuseForbiddenText, ma.Schema):
    """Base schema: unknown fields are an error (no mass assignment), order kept."""

    class Meta:
        unknown = ma.RAISE
        ordered = True


class QueryArgs(_RefuseForbiddenText, ma.Schema):
    """Query strings may carry cache-busters and the like: unknown keys are ignored."""

    class Meta:
        unknown = ma.EXCLUDE
        ordered = True


class UtcDateTime(fields.DateTime):
    """ISO 8601 with an offset in, UTC with `Z` out. A time without an offset is refused."""

    default_error_messages = {
        "naive": "Give the time with an offset, e.g. 2026-11-03T08:15:00Z.",
        "span": f"Must be a time {calendar.SPAN_TEXT}.",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="iso", **kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        result = super()._deserialize(value, attr, data, **kwargs)
        if result.tzinfo is None or result.utcoffset() is None:
            raise self.make_error("naive")
        # The year as written, in its own offset (2000-01-01T00:00+08:00 is a time of
        # 2000 though 1999 in UTC); checked before converting, which at the calendar's
        # ends (0001-01-01T00:00+01:00) would overflow.
        if not calendar.year_within(result.year):
            raise self.make_error("span")
        return result.astimezone(UTC)

    def _serialize(self, value: datetime | None, attr, obj, **kwargs) -> str | None:
        return utc_text(value)


class Day(fields.Date):
    """A calendar day (YYYY-MM-DD) within the product's span of years."""

    default_error_messages = {"span": f"Must be a day {calendar.SPAN_TEXT}."}

    def _deserialize(self, value, attr, data, **kwargs) -> date:
        result = super()._deserialize(value, attr, data, **kwargs)
        if not calendar.year_within(result.year):
            raise self.make_error("span")
        return result


class Text(fields.String):
    """A string without its surrounding spaces, so that a blank name counts as empty."""

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        return super()._deserialize(value, attr, data, **kwargs).strip()


class OptionalText(Text):
    """Free text that may be cleared: blank or null is stored as null; absent stays absent."""

    def __init__(self, max_len: int, **kwargs: Any) -> None:
        super().__init__(allow_none=True, validate=validate.Length(max=max_len), **kwargs)

    def deserialize(self, value, attr=None, data=None, **kwargs):
        result = super().deserialize(value, attr, data, **kwargs)
        # A field left out stays left out (marshmallow's `missing` is falsy too).
        return None if result == "" else result


# E.164 (+, country code, up to 15 digits), or a local number: digits, optionally in
# groups separated by one space or hyphen ("021-6234 5678"); at most 32 characters.
PHONE = re.compile(r"\+[1-9][0-9]{1,14}|[0-9]+(?:[ -][0-9]+)*")
PHONE_MAX = 32
PHONE_DESCRIPTION = "E.164 or local digits (groups by a space or hyphen), ≤ 32 characters."


class PhoneNumber(OptionalText):
    """A telephone number (a site's contact, a user's own): PHONE, at most PHONE_MAX
    characters; blank or null clears it."""

    default_error_messages = {
        "phone": "Give the number in E.164 (+862161234567) or as local digits (021-6123 4567).",
    }

    def __init__(self, **kwargs) -> None:
        super().__init__(PHONE_MAX, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        number = super()._deserialize(value, attr, data, **kwargs)
        if number and not PHONE.fullmatch(number):
            raise self.make_error("phone")
        return number


class JsonBoolean(fields.Boolean):
    """JSON true or false only: not 1, "yes" or "on"."""

    default_error_messages = {"invalid": "Must be true or false."}

    def _deserialize(self, value, attr, data, **kwargs) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class CommaList(fields.Field):
    """`?status=a,b`: one value or several separated by commas, each from `choices`."""

    default_error_messages = {"invalid_choice": "Must be one of: {choices}."}

    def __init__(self, choices: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.choices = choices
        self.metadata.setdefault("description", "One value or several separated by commas.")

    def _deserialize(self, value, attr, data, **kwargs) -> list[str]:
        if not isinstance(value, str):
            raise self.make_error("invalid_choice", choices=", ".join(self.choices))
        items = [item.strip() for item in value.split(",") if item.strip()]
        if not items or any(item not in self.choices for item in items):
            raise self.make_error("invalid_choice", choices=", ".join(self.choices))
        return items


class PageArgs(QueryArgs):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class TimeRangeArgs(PageArgs):
    """`from` (inclusive) and `to` (exclusive) on a list's main time."""

    from_ = UtcDateTime(data_key="from")
    to = UtcDateTime()

    @ma.validates_schema
    def range_is_forward(self, data, **kwargs):
        if "from_" in data and "to" in data and data["to"] <= data["from_"]:
            raise ma.ValidationError("Must be later than from.", "to")


class PageMeta(ma.Schema):
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    total = fields.Integer(required=True)


_envelopes: dict[type, type] = {}


def envelope(item_schema: type[ma.Schema]) -> type[ma.Schema]:
    """The list envelope of api.md around `item_schema`."""
    if item_schema not in _envelopes:
        name = item_schema.__name__.removesuffix("Schema") + "PageSchema"
        _envelopes[item_schema] = type(
            name, (PageMeta,), {"items": fields.List(fields.Nested(item_schema), required=True)}
        )
    return _envelopes[item_schema]


def paginate(query: sa.Select, args: dict[str, Any], scalars: bool = True,
             plain: bool = False) -> dict[str, Any]:
    """One page of `query` (already ordered) and the total, in two statements. `plain`:
    the query selects only table columns, read as rows without the ORM's per-statement work."""
    page, per_page = args["page"], args["per_page"]
    db.session.flush()  # what the request changed counts (Core statements do not flush)
    connection = db.session.connection()
    total = connection.execute(
        sa.select(sa.func.count()).select_from(query.order_by(None).subquery())
    ).scalar_one()
    page_query = query.limit(per_page).offset((page - 1) * per_page)
    if plain:
        items = list(connection.execute(page_query))
    else:
        result = db.session.execute(page_query)
        items = list(result.scalars() if scalars else result)
    return {"items": items, "page": page, "per_page": per_page, "total": total}
