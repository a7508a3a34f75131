from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import fields, validate

from app.api.common import (
    ID,
    CommaList,
    Day,
    JsonBoolean,
    OptionalText,
    QueryArgs,
    Schema,
    Text,
    TimeRangeArgs,
    UtcDateTime,
    written_out,
)
from app.domain.intake import SOURCE_KEY
from app.models.types import JOB_STATUSES, PRIORITIES, WORK_TYPES


def _text(max_len: int, **kwargs) -> Text:
    return Text(validate=validate.Length(min=1, max=max_len), **kwargs)


class JobSchema(Schema):
    id = fields.Integer(dump_only=True)
    site_id = fields.Integer()
    title = fields.String()
    description = fields.String(allow_none=True)
    category = fields.String()
    priority = fields.String()
    mode = fields.String()
    asset_ref = fields.String(allow_none=True)
    status = fields.String()
    reported_at = UtcDateTime()
    scheduled_for = Day(allow_none=True)
    engineer_id = fields.Integer(allow_none=True)
    created_by_id = fields.Integer(allow_none=True)
    assigned_at = UtcDateTime(allow_none=True, metadata={"description": "The first assignment."})
    first_contact_at = UtcDateTime(allow_none=True)
    closed_at = UtcDateTime(allow_none=True)
    resolution = fields.String(allow_none=True)
    fixed = fields.Boolean(allow_none=True)
    checklist = fields.Dict(keys=fields.String(), values=fields.Boolean(), allow_none=True)
    checklist_complete = fields.Boolean(allow_none=True)
    repeat_of_id = fields.Integer(allow_none=True)
    cancelled_at = UtcDateTime(allow_none=True)
    cancel_reason = fields.String(allow_none=True)
    source = fields.String(allow_none=True, metadata={
        "description": "Where the ticket came from: an intake source's key, or csv."})
    external_id = fields.String(allow_none=True, metadata={
        "description": "The ticket's id in its source; unique per source."})
    created_at = UtcDateTime()


def _utc(value: datetime | str | None) -> str | None:
    """As UtcDateTime writes a time: from a UTC datetime, or from SQLite's stored text
    (`2026-11-03 08:15:00.250000`, UTC, as UTCDateTime keeps it)."""
    if value is None:
        return None
    if isinstance(value, str):
        if len(value) != 26 or value[10] != " ":  # written otherwise (by hand, say)
            parsed = datetime.fromisoformat(value)
            value = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
        elif value.endswith(".000000"):
            return f"{value[:10]}T{value[11:19]}Z"
        else:
            return f"{value[:10]}T{value[11:]}Z"
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat()[:-6] + "Z"


@written_out(JobSchema)
def job_item(job: Any) -> dict[str, Any]:
    """JobSchema's output for one job (a Job or a row of the jobs table), written out.

    A page of the jobs list is 50 jobs of 24 fields: dumping it field by field through
    marshmallow costs more than the rest of the request. The values come from the
    database already of the field's type, or as the text SQLite stores for times and
    dates (see services.jobs.list_jobs), so only those need writing. Tests hold it to
    JobSchema: its fields (tests/api/test_written_out.py) and their values
    (test_job_list_items.py).
    """
    scheduled_for, checklist = job.scheduled_for, job.checklist
    return {
        "id": job.id,
        "site_id": job.site_id,
        "title": job.title,
        "description": job.description,
        "category": job.category,
        "priority": job.priority,
        "mode": job.mode,
        "asset_ref": job.asset_ref,
        "status": job.status,
        "reported_at": _utc(job.reported_at),
        "scheduled_for": (scheduled_for if scheduled_for is None or isinstance(scheduled_for, str)
                          else scheduled_for.isoformat()),
        "engineer_id": job.engineer_id,
        "created_by_id": job.created_by_id,
        "assigned_at": _utc(job.assigned_at),
        "first_contact_at": _utc(job.first_contact_at),
        "closed_at": _utc(job.closed_at),
        "resolution": job.resolution,
        "fixed": job.fixed,
        "checklist": None if checklist is None else {str(k): v for k, v in checklist.items()},
        "checklist_complete": job.checklist_complete,
        "repeat_of_id": job.repeat_of_id,
        "cancelled_at": _utc(job.cancelled_at),
        "cancel_reason": job.cancel_reason,
        "source": job.source,
        "external_id": job.external_id,
        "created_at": _utc(job.created_at),
    }


class JobCreateSchema(Schema):
    site_id = fields.Integer(required=True, validate=ID)
    title = _text(200, required=True)
    description = OptionalText(5000)
    category = fields.String(required=True, validate=validate.Length(min=1, max=40))
    priority = fields.String(required=True, validate=validate.OneOf(PRIORITIES))
    mode = fields.String(validate=validate.OneOf(WORK_TYPES), metadata={"description": "Default field."})
    asset_ref = OptionalText(100)
    reported_at = UtcDateTime(metadata={"description": "Default now."})
    scheduled_for = Day(allow_none=True, metadata={"description": "The day it is planned for."})
    engineer_id = fields.Integer(allow_none=True, validate=ID, metadata={"description": "Assigns at once."})


class JobPatchSchema(Schema):
    title = _text(200)
    description = OptionalText(5000)
    priority = fields.String(validate=validate.OneOf(PRIORITIES))
    category = fields.String(validate=validate.Length(min=1, max=40))
    asset_ref = OptionalText(100)
    scheduled_for = Day(allow_none=True)
    repeat_of_id = fields.Integer(allow_none=True, validate=ID,
                                  metadata={"description": "The earlier job this one repeats, or null."})


class JobCancelSchema(Schema):
    reason = _text(2000, required=True)


class JobAssignSchema(Schema):
    engineer_id = fields.Integer(required=True, validate=ID)
    at = UtcDateTime(metadata={"description": "When it was dispatched; default now."})


class JobContactSchema(Schema):
    at = UtcDateTime(metadata={"description": "When the customer was first contacted; default now."})


class JobCloseSchema(Schema):
    resolution = _text(5000, required=True)
    fixed = JsonBoolean(required=True)
    checklist = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=40)),
                            values=JsonBoolean(), required=True,
                            metadata={"description": "Every item of the category's checklist: true or false."})
    client_time = UtcDateTime(metadata={"description": "When it was closed on the phone; becomes closed_at."})


class JobListArgs(TimeRangeArgs):
    status = CommaList(JOB_STATUSES)
    engineer_id = fields.Integer(validate=ID)
    site_id = fields.Integer(validate=ID)
    scheduled_for = Day()


class AssignmentSuggestionSchema(Schema):
    engineer_id = fields.Integer()
    name = fields.String()
    distance_m = fields.Float(allow_none=True, metadata={
        "description": "Geodesic metres (rounded) from `from` to the job's site; null: no "
                       "position and no home site known."})
    from_ = fields.String(data_key="from", attribute="from", allow_none=True, metadata={
        "enum": ["last_position", "home_site", None],
        "description": "last_position: the latest fix of a check-in, check-out or photo of "
                       "theirs; home_site: their home site, when no fix is known."})
    position_at = UtcDateTime(allow_none=True, metadata={"description": "When the last position was taken."})
    open_jobs_today = fields.Integer(metadata={
        "description": "Their other open jobs scheduled for today or earlier, or unscheduled."})


class AssignmentSuggestionsSchema(Schema):
    job_id = fields.Integer()
    site_id = fields.Integer()
    items = fields.List(fields.Nested(AssignmentSuggestionSchema), metadata={
        "description": "Nearest first, then the fewer open jobs today; those with neither a "
                       "position nor a home site last."})


class JobImportArgs(QueryArgs):
    dry_run = fields.Boolean(load_default=False, metadata={
        "description": "true: check every row and report, import nothing."})
    source = fields.String(validate=validate.Regexp(SOURCE_KEY, error="Not a source key."), metadata={
        "description": "The intake source the tickets come from (their external_id is unique "
                       "per source); default csv."})


class ImportReasonSchema(Schema):
    code = fields.String(metadata={"description": "MISSING_FIELD, BAD_VALUE, BAD_TIME, "
                                   "TOO_MANY_VALUES, UNKNOWN_SITE, UNKNOWN_CATEGORY, "
                                   "ENGINEER_OUT_OF_SCOPE, DUPLICATE_IN_FILE, ALREADY_IMPORTED"})
    column = fields.String(allow_none=True)
    detail = fields.String()


class ImportRefusalSchema(Schema):
    line = fields.Integer(metadata={"description": "The line of the file the row starts on."})
    reasons = fields.List(fields.Nested(ImportReasonSchema))


class JobImportReportSchema(Schema):
    dry_run = fields.Boolean()
    source = fields.String()
    rows = fields.Integer(metadata={"description": "Data rows read (blank lines skipped)."})
    accepted = fields.Integer()
    imported = fields.Integer()
    refused = fields.List(fields.Nested(ImportRefusalSchema))
    job_ids = fields.List(fields.Integer(), metadata={"description": "The new jobs' ids, ascending."})
