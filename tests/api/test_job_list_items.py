"""The jobs list writes its items out by hand (app.api.jobs.schemas.job_item): they must
stay what JobSchema would dump, field for field, whatever each field holds."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from app.api.jobs.schemas import JobSchema, job_item
from app.extensions import db
from app.models import Job
from app.models.types import utcnow
from app.services.jobs import list_jobs


@pytest.fixture
def varied(factory, org):
    """Two jobs between them holding a value, and no value, in every field that may be empty."""
    site = factory.site()
    base = utcnow().replace(microsecond=0) - timedelta(days=3)
    full = factory.job(
        site=site, engineer=org["eng_a1"], created_by=org["sup_a"], reported_at=base,
        description="Unit humming, then silent — 空调", asset_ref="AC-7", mode="remote",
        priority="urgent", scheduled_for=date(2026, 11, 3), status="closed",
        first_contact_at=base + timedelta(minutes=90, microseconds=250),
        closed_at=base + timedelta(days=1), resolution="Replaced the capacitor.", fixed=False,
        checklist={"power_off": True, "photos": False}, checklist_complete=False,
    )
    bare = factory.job(site=site, reported_at=base + timedelta(hours=1), status="cancelled",
                       cancelled_at=base + timedelta(hours=2), cancel_reason="Duplicate",
                       repeat_of_id=full.id, checklist={}, fixed=True, checklist_complete=True)
    db.session.commit()
    return full, bare


def test_every_field_is_the_schemas(varied):
    dumped = JobSchema().dump(list(varied), many=True)
    assert [job_item(job) for job in varied] == dumped
    # Every field the schema declares, in its order, and nothing else.
    assert [list(item) for item in dumped] == [list(JobSchema().fields)] * 2
    assert all(list(job_item(job)) == list(JobSchema().fields) for job in varied)


def test_the_rows_the_list_reads_give_the_same_items(varied, org):
    """The list's own statement (times and dates as SQLite's text, enums as text)."""
    query = list_jobs(org["admin"], {}).where(Job.id.in_([j.id for j in varied]))
    rows = db.session.connection().execute(query.order_by(None).order_by(Job.id)).all()
    db.session.expire_all()
    jobs = list(db.session.scalars(sa.select(Job).order_by(Job.id)))
    assert [job_item(row) for row in rows] == JobSchema().dump(jobs, many=True)


def test_the_list_answers_the_schemas_items(client, org, varied):
    full, bare = varied
    client.use_token(org["admin"])
    response = client.get("jobs")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    db.session.expire_all()
    expected = JobSchema().dump([db.session.get(Job, bare.id), db.session.get(Job, full.id)],
                                many=True)
    assert response.json == {"items": expected, "page": 1, "per_page": 50, "total": 2}
    # Hand-checked values of the full job.
    item = response.json["items"][1]
    base = full.reported_at.astimezone(UTC).replace(tzinfo=None)
    assert item["reported_at"] == base.isoformat() + "Z"
    assert item["first_contact_at"] == (base + timedelta(minutes=90, microseconds=250)).isoformat() + "Z"
    assert item["scheduled_for"] == "2026-11-03"
    assert item["checklist"] == {"power_off": True, "photos": False}
    assert (item["fixed"], item["checklist_complete"], item["mode"]) == (False, False, "remote")
    assert response.json["items"][0]["repeat_of_id"] == full.id
    assert response.json["items"][0]["assigned_at"] is None


def test_times_in_another_offset_are_written_in_utc():
    class Row:
        pass

    row = Row()
    for name in JobSchema().fields:
        setattr(row, name, None)
    row.id, row.checklist = 1, None
    row.reported_at = datetime(2026, 11, 3, 16, 15, tzinfo=timezone(timedelta(hours=8)))
    row.created_at = datetime(2026, 11, 3, 8, 15, 0, 5, tzinfo=UTC)
    item = job_item(row)
    assert item == JobSchema().dump(row)
    assert (item["reported_at"], item["created_at"]) == ("2026-11-03T08:15:00Z",
                                                         "2026-11-03T08:15:00.000005Z")


@pytest.mark.parametrize(("stored", "written"), [
    ("2026-11-03 08:15:00.000000", "2026-11-03T08:15:00Z"),
    ("2026-11-03 08:15:00.000250", "2026-11-03T08:15:00.000250Z"),
    ("2026-11-03 08:15:00", "2026-11-03T08:15:00Z"),  # as SQL's CURRENT_TIMESTAMP writes it
    ("2026-11-03 08:15:00.5", "2026-11-03T08:15:00.500000Z"),
    ("2026-11-03T10:15:00+02:00", "2026-11-03T08:15:00Z"),
])
def test_times_stored_as_text_are_written_as_the_schema_writes_them(stored, written):
    from app.api.jobs.schemas import _utc

    assert _utc(stored) == written
    parsed = datetime.fromisoformat(stored)
    aware = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
    assert JobSchema().dump({"created_at": aware})["created_at"] == written
