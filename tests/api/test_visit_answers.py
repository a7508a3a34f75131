"""What a check-in and a check-out answer: the visit of api.md (and its site, job and
engineer), without the verification queue's evidence, which they do not read."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models.types import utcnow
from tests.support import ApiClient

ANSWER = {"id", "job_id", "site_id", "engineer_id", "check_in", "check_out", "status", "flags",
          "check_in_note", "decision_note", "decided_at", "decided_by_id", "rejected_at", "dispute_note",
          "disputed_at", "decision_final", "created_at", "site", "job", "engineer"}
QUEUE_EVIDENCE = {"photos", "engineer_history"}


@pytest.fixture
def setting(app, factory, org):
    site = factory.site(lat=31.2304, lon=121.4737, radius_m=150)
    job = factory.job(site=site, engineer=org["eng_a1"], reported_at=utcnow() - timedelta(days=1),
                      title="Chiller alarm")
    db.session.commit()
    return ApiClient(app.test_client()).use_token(org["eng_a1"]), site, job


def statements(callable_):
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        return callable_(), seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)


def test_check_in_and_check_out_answer_the_visit_without_the_queue_evidence(setting, org):
    eng, site, job = setting
    at = utcnow() - timedelta(minutes=30)
    response, seen = statements(lambda: eng.post("visits/check-in", json={
        "job_id": job.id, "lat": site.lat, "lon": site.lon, "accuracy_m": 8.0,
        "client_time": at.isoformat()}))
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == ANSWER
    assert body["job"] == {"id": job.id, "title": "Chiller alarm", "status": "in_progress"}
    assert body["engineer"] == {"id": org["eng_a1"].id, "name": org["eng_a1"].name}
    assert body["site"] == {"id": site.id, "name": site.name, "lat": 31.2304, "lon": 121.4737,
                            "radius_m": 150}
    assert (body["status"], body["flags"], body["check_out"]) == ("verified", [], None)
    # Neither the photos nor the flag history is read for it.
    assert not [s for s in seen if "photos" in s.lower() or "row_number" in s.lower()]

    response, seen = statements(lambda: eng.post(f"visits/{body['id']}/check-out", json={
        "lat": site.lat + 0.0001, "lon": site.lon, "accuracy_m": 9.0,
        "client_time": (at + timedelta(minutes=20)).isoformat()}))
    assert response.status_code == 200, response.get_data(as_text=True)
    out = response.get_json()
    assert set(out) == ANSWER
    assert out["id"] == body["id"] and out["check_out"]["accuracy_m"] == 9.0
    assert out["check_out"]["flags"] == [] and out["status"] == "verified"
    assert out["job"] == {"id": job.id, "title": "Chiller alarm", "status": "in_progress"}
    assert out["engineer"] == body["engineer"] and out["site"] == body["site"]
    assert not [s for s in seen if "photos" in s.lower() or "row_number" in s.lower()]

    # Reading the visit still gives the evidence a decision needs.
    shown = eng.get(f"visits/{body['id']}").get_json()
    assert set(shown) == ANSWER | QUEUE_EVIDENCE
    assert shown["photos"] == [] and shown["engineer_history"]["visits"] == 1
    assert {k: shown[k] for k in ANSWER} == out


def test_a_refused_check_in_still_answers_a_problem(setting):
    eng, site, job = setting
    response = eng.post("visits/check-in", json={
        "job_id": job.id, "lat": site.lat, "lon": site.lon, "accuracy_m": 0,
        "client_time": utcnow().isoformat()})
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert "accuracy_m" in response.get_json()["errors"]


@pytest.mark.parametrize("extra", [
    {},
    {"mock_location": True, "accuracy_m": 150.0},  # flagged: MOCK_LOCATION, LOW_ACCURACY
    {"note": "  Gate is 2 km away, the site is a farm.  "},
])
def test_the_written_check_in_answer_is_the_schemas_dump_of_the_stored_visit(setting, org, extra):
    """The check-in's answer is written out by hand (checked_in_answer); it must be what
    VisitAnswerSchema makes of the row just stored, field for field."""
    from app.api.visits.schemas import VisitAnswerSchema
    from app.models import Job, Site, Visit
    from app.api.visits.presenters import VisitView

    eng, site, job = setting
    at = utcnow().replace(microsecond=123456) - timedelta(minutes=30)
    body = {"job_id": job.id, "lat": site.lat + 0.0002, "lon": site.lon, "accuracy_m": 8.5,
            "client_time": at.isoformat(), **extra}
    response, seen = statements(lambda: eng.post("visits/check-in", json=body))
    assert response.status_code == 201, response.get_data(as_text=True)
    answer = response.get_json()
    db.session.expire_all()
    visit, stored_site, stored_job = (db.session.get(Visit, answer["id"]), db.session.get(Site, site.id),
                                      db.session.get(Job, job.id))
    engineer = org["eng_a1"]
    dumped = VisitAnswerSchema().dump(VisitView(
        visit, stored_site, {"id": stored_job.id, "title": stored_job.title, "status": stored_job.status},
        {"id": engineer.id, "name": engineer.name}))
    assert answer == dumped
    assert answer["check_in"]["client_time"] == at.strftime("%Y-%m-%dT%H:%M:%S.123456Z")
    assert response.headers["Location"] == f"/api/v1/visits/{answer['id']}"
    assert answer["check_in_note"] == ("Gate is 2 km away, the site is a farm." if "note" in extra else None)
    if "mock_location" in extra:
        assert answer["status"] == "flagged" and set(answer["flags"]) >= {"MOCK_LOCATION"}
    if not extra:
        # Beside sign-in (and its last-used time), the check-in's four statements (on
        # PostgreSQL three: the job's read takes the lock writers share with a change of
        # scheme, and the visit's insert starts the job; on SQLite the job's site is
        # read first, before the write lock, for its distance),
        # then the KPI store's: the month locked with the engineer's scheme (PostgreSQL:
        # made if new and returned by one upsert; SQLite: read from the engineer, the row
        # there or not), its arrival figures recomputed, the row written. (The time zone
        # the store is kept in is recorded by a process's first write: left out here.)
        work = [" ".join(s.split()[:3]) for s in seen
                if s.split()[0] in ("SELECT", "INSERT", "UPDATE", "WITH")
                and "api_tokens" not in s and "kpi_store_state" not in s]
        if db.engine.dialect.name == "postgresql":
            store = ["INSERT INTO kpi_figures", "SELECT arrival.engineer_id, arrival.bucket,",
                     "UPDATE kpi_figures SET"]
        else:
            store = ["SELECT users.id AS", "SELECT arrival.engineer_id, arrival.bucket,",
                     "INSERT INTO kpi_figures"]
            if work[-1] == "UPDATE kpi_figures SET":
                store[-1] = work[-1]  # the month's row was there already
        # (PostgreSQL inserts the visit and starts its job in one statement.)
        started = (["WITH started AS"] if db.engine.dialect.name == "postgresql"
                   else ["INSERT INTO visits", "UPDATE jobs SET"])
        ahead = [] if db.engine.dialect.name == "postgresql" else ["SELECT jobs.id, jobs.title,"]
        assert work == [*ahead, "SELECT jobs.id, jobs.title,", "SELECT anon_1.kind, anon_1.lat,",
                        *started, *store], work


@pytest.mark.parametrize("mounted_at", ["", "/fieldproof"])
def test_the_check_ins_location_is_the_address_url_for_builds(app, setting, mounted_at):
    """The Location is put together directly (the check-in holds SQLite's write lock
    meanwhile); it is the address url_for gives, served at the root or under a prefix."""
    from flask import url_for

    eng, site, job = setting
    body = {"job_id": job.id, "lat": site.lat, "lon": site.lon, "accuracy_m": 8.0,
            "client_time": utcnow().isoformat()}
    response = eng.post("visits/check-in", json=body,
                        base_url=f"http://localhost{mounted_at}")
    assert response.status_code == 201, response.get_data(as_text=True)
    visit_id = response.get_json()["id"]
    with app.test_request_context(base_url=f"http://localhost{mounted_at}"):
        built = url_for("visits.VisitByIdViews", visit_id=visit_id)
    assert response.headers["Location"] == built == f"{mounted_at}/api/v1/visits/{visit_id}"
    seen = eng.get(response.headers["Location"][len(mounted_at):],
                   base_url=f"http://localhost{mounted_at}")
    assert seen.status_code == 200 and seen.get_json()["id"] == visit_id
