from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from app.api.common import (
    ID,
    CommaList,
    JsonBoolean,
    OptionalText,
    PageArgs,
    Schema,
    Text,
    UtcDateTime,
    utc_text,
    written_out,
)
from app.api.sites.schemas import LAT, LON
from app.domain.verification import FLAG_ORDER
from app.models.types import VISIT_STATUSES

ACCURACY = validate.Range(min=0, min_inclusive=False, error="Must be greater than 0.")
NOTE = validate.Length(max=2000)


class VisitFixSchema(Schema):
    """A position from the phone, as the browser's Geolocation API reports it."""

    lat = fields.Float(required=True, validate=LAT, allow_nan=False)
    lon = fields.Float(required=True, validate=LON, allow_nan=False)
    accuracy_m = fields.Float(required=True, validate=ACCURACY, allow_nan=False,
                              metadata={"description": "Metres; > 0."})
    client_time = UtcDateTime(required=True, metadata={
        "description": "When the phone took the fix; an offline action keeps its own."})
    mock_location = JsonBoolean(load_default=False, metadata={
        "description": "The position came from a mock provider."})


CHECK_IN_NOTE_MAX = 500


class VisitCheckInSchema(VisitFixSchema):
    job_id = fields.Integer(required=True, strict=True, validate=ID)
    note = OptionalText(CHECK_IN_NOTE_MAX, metadata={
        "description": "The engineer's reason, e.g. for a check-in outside the fence; "
                       "shown as check_in_note."})


class VisitCheckOutSchema(VisitFixSchema):
    pass


class VisitVerifySchema(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(["approve", "reject"]))
    note = Text(allow_none=True, validate=NOTE, metadata={"description": "Required to reject."})

    @validates_schema
    def note_required_to_reject(self, data, **kwargs) -> None:
        if data.get("decision") == "reject" and not data.get("note"):
            raise ValidationError("Give the reason for the rejection.", "note")


class VisitDisputeSchema(Schema):
    note = Text(required=True, validate=validate.Length(min=1, max=2000))


VISIT_SORTS = ("oldest", "most_flags")
MAX_AGE_H = 24 * 366


class VisitListArgs(PageArgs):
    status = CommaList(VISIT_STATUSES)
    engineer_id = fields.Integer(validate=ID)
    job_id = fields.Integer(validate=ID)
    flag = fields.List(fields.String(validate=validate.OneOf(FLAG_ORDER)), metadata={
        "description": "Repeatable (?flag=A&flag=B): visits that raised any of these flags."})
    older_than_h = fields.Integer(validate=validate.Range(min=0, max=MAX_AGE_H), metadata={
        "description": "Visits checked in (client_time) at least this many hours ago."})
    sort = fields.String(validate=validate.OneOf(VISIT_SORTS), metadata={
        "description": "oldest: by check-in time, oldest first; most_flags: the most flags "
                       "first, then oldest. Without it the queue (?status=flagged,disputed) is "
                       "oldest first and any other list newest first."})
    from_ = UtcDateTime(data_key="from", metadata={"description": "Check-in client_time, inclusive."})
    to = UtcDateTime(metadata={"description": "Check-in client_time, exclusive."})


class VisitPositionSchema(Schema):
    lat = fields.Float()
    lon = fields.Float()
    accuracy_m = fields.Float()
    client_time = UtcDateTime()
    server_time = UtcDateTime()
    distance_m = fields.Float(metadata={"description": "Geodesic distance to the site."})
    mock_location = fields.Boolean()
    flags = fields.List(fields.String(), metadata={"description": "As raised by this event."})


class VisitSiteSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    lat = fields.Float()
    lon = fields.Float()
    radius_m = fields.Integer()


class VisitJobSchema(Schema):
    id = fields.Integer()
    title = fields.String()
    status = fields.String()


class VisitEngineerSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class VisitPhotoSchema(Schema):
    id = fields.Integer()
    visit_id = fields.Integer(allow_none=True)
    kind = fields.String()
    flags = fields.List(fields.String())
    created_at = UtcDateTime()
    thumb_url = fields.String()


class FlaggedVisitSchema(Schema):
    id = fields.Integer()
    job_id = fields.Integer()
    status = fields.String()
    flags = fields.List(fields.String())
    client_time = UtcDateTime(metadata={"description": "Check-in client_time."})


class VisitFlagHistorySchema(Schema):
    days = fields.Integer(metadata={"description": "The window of the counts."})
    visits = fields.Integer()
    flagged = fields.Integer(metadata={"description": "Visits that raised any flag."})
    rejected = fields.Integer()
    disputed = fields.Integer()
    recent_flagged = fields.List(fields.Nested(FlaggedVisitSchema),
                                 metadata={"description": "The latest flagged visits, any age."})


class VisitAnswerSchema(Schema):
    """A visit as a check-in or check-out answers it: without the evidence the
    verification queue shows beside it (photos, the engineer's flag history), which the
    phone does not need and which would cost three reads on the busiest write."""

    id = fields.Integer()
    job_id = fields.Integer()
    site_id = fields.Integer()
    engineer_id = fields.Integer()
    check_in = fields.Nested(VisitPositionSchema)
    check_out = fields.Nested(VisitPositionSchema, allow_none=True)
    status = fields.String(metadata={"description": "verified, flagged, approved, rejected or disputed."})
    flags = fields.List(fields.String(), metadata={"description": "Every flag the visit has raised."})
    check_in_note = fields.String(allow_none=True, metadata={
        "description": "The engineer's reason given with the check-in."})
    decision_note = fields.String(allow_none=True)
    decided_at = UtcDateTime(allow_none=True)
    decided_by_id = fields.Integer(allow_none=True)
    rejected_at = UtcDateTime(allow_none=True)
    dispute_note = fields.String(allow_none=True)
    disputed_at = UtcDateTime(allow_none=True)
    decision_final = fields.Boolean()
    created_at = UtcDateTime()
    site = fields.Nested(VisitSiteSchema)
    job = fields.Nested(VisitJobSchema)
    engineer = fields.Nested(VisitEngineerSchema)


@written_out(VisitAnswerSchema)
def checked_in_answer(new: Any) -> dict[str, Any]:
    """VisitAnswerSchema's output for a check-in just stored (services.visits.CheckedIn),
    written out: the busiest write of the day, where the schema's dump, field by field,
    costs about as much as a statement. Tests hold it to the schema: its fields
    (tests/api/test_written_out.py) and its values (test_visit_answers.py)."""
    visit = new.visit
    return {
        "id": visit["id"],
        "job_id": visit["job_id"],
        "site_id": visit["site_id"],
        "engineer_id": visit["engineer_id"],
        "check_in": {
            "lat": visit["in_lat"], "lon": visit["in_lon"], "accuracy_m": visit["in_accuracy_m"],
            "client_time": utc_text(visit["in_client_time"]),
            "server_time": utc_text(visit["in_server_time"]),
            "distance_m": visit["in_distance_m"], "mock_location": visit["in_mock"],
            "flags": visit["in_flags"],
        },
        "check_out": None,
        "status": visit["status"],
        "flags": visit["flags"],
        "check_in_note": visit["check_in_note"],
        "decision_note": None,
        "decided_at": None,
        "decided_by_id": None,
        "rejected_at": None,
        "dispute_note": None,
        "disputed_at": None,
        "decision_final": visit["decision_final"],
        "created_at": utc_text(visit["created_at"]),
        "site": new.site,
        "job": new.job,
        "engineer": new.engineer,
    }


class VisitSchema(VisitAnswerSchema):
    """A visit with the evidence a decision needs."""

    photos = fields.List(fields.Nested(VisitPhotoSchema))
    engineer_history = fields.Nested(VisitFlagHistorySchema)
