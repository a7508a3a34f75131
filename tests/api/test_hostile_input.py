"""Input of any shape answers 4xx with a problem document and stores nothing: unpaired
surrogates and control characters in text, JSON nested beyond reason, times and months at
the ends of the calendar, a clock set years ahead, and names that no spreadsheet can hold.
"""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Job, Site, User, Visit
from app.models.types import utcnow
from tests.api.test_app import assert_problem
from tests.api.test_feedback import issue, visited_job
from tests.api.test_visits import check_in_body, fix, iso
from tests.support import PASSWORD

NESTED = "[" * 100_000 + "]" * 100_000
# A JSON text naming a lone surrogate: valid JSON syntax, but no Unicode text.
SURROGATE = '"\\ud800x"'


def raw_post(client, path: str, body: str, **headers):
    return client.post(path, data=body, content_type="application/json", headers=headers)


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


# --- unpaired surrogates and control characters -------------------------------------------

def test_a_lone_surrogate_in_the_login_email_is_refused(client, org):
    response = raw_post(client.client, "/api/v1/auth/login",
                        f'{{"email": {SURROGATE}, "password": "x"}}')
    problem = assert_problem(response, 422, "VALIDATION_ERROR")
    assert list(problem["errors"]) == ["email"]


def test_a_lone_surrogate_in_a_public_feedback_comment_is_refused(client, org, factory):
    token = issue(org["eng_a1"], visited_job(factory, org["eng_a1"]))
    response = raw_post(client, f"feedback/{token}", f'{{"score": 9, "comment": {SURROGATE}}}')
    problem = assert_problem(response, 422, "VALIDATION_ERROR")
    assert list(problem["errors"]) == ["comment"]
    assert client.get(f"feedback/{token}").status_code == 200  # the link is still unused


@pytest.mark.parametrize("path, body, field, model", [
    ("cases", '{"kind": "case", "title": %s, "symptom": "s", "cause": "c", "solution": "x"}', "title", None),
    ("sites", '{"name": %s, "customer_name": "C", "address": "1 Road", "lat": 31.2, "lon": 121.4}', "name", Site),
    ("users", '{"email": "new@example.com", "name": %s, "role": "engineer", "password": "long enough password"}', "name", User),
])
def test_a_lone_surrogate_in_a_name_or_title_is_refused(client, org, path, body, field, model):
    client.login(org["admin"] if path != "cases" else org["eng_a1"])
    before = count(model) if model else None
    for value in (SURROGATE, '"ok \\udfff"', '"\\u000b"', '"a\\u0000b"', '"bell \\u0007"'):
        response = raw_post(client, path, body % value)
        problem = assert_problem(response, 422, "VALIDATION_ERROR")
        assert field in problem["errors"], problem
    if model:
        assert count(model) == before


def test_a_surrogate_pair_tabs_and_line_breaks_are_text(client, org):
    client.login(org["admin"])
    name = "Plant 🏭\tNorth\r\nGate"
    response = client.post("sites", json={"name": name, "customer_name": "C", "address": "1 Road",
                                          "lat": 31.2, "lon": 121.4})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert db.session.get(Site, response.json["id"]).name == name


def test_a_lone_surrogate_in_a_query_or_a_key_is_refused(client, org):
    client.login(org["eng_a1"])
    assert_problem(client.get("cases?q=%0b"), 422, "VALIDATION_ERROR")
    response = raw_post(client, "visits/check-in", f'{{{SURROGATE}: 1}}')
    assert_problem(response, 422, "VALIDATION_ERROR")


def test_control_characters_in_a_csv_import_are_refused_by_line(client, org):
    client.login(org["admin"])
    raw = "name,customer_name,address,lat,lon\nGood,C,1 Road,31.2,121.4\nBad\x0bName,C,2 Road,31.2,121.4\n".encode()
    response = client.post("sites/import", data=raw, content_type="text/csv; charset=utf-8")
    problem = assert_problem(response, 422, "VALIDATION_ERROR")
    assert [row["row"] for row in problem["errors"]["rows"]] == [3]
    assert count(Site) == 0


def test_the_xlsx_export_shows_a_stored_control_character_as_a_replacement(client, org, factory):
    """Refused at input, but a name may predate that or be written to the database
    directly: the export never fails on it."""
    from openpyxl import load_workbook

    person = factory.user("engineer", supervisor=org["sup_a"], name="Vertical\x0bTab")
    db.session.commit()
    client.login(org["admin"])
    response = client.get("kpi/export?format=xlsx")
    assert response.status_code == 200, response.get_data(as_text=True)
    sheet = load_workbook(io.BytesIO(response.data)).active
    names = {row[1].value for row in sheet.iter_rows(min_row=2) if row[0].value == person.id}
    assert names == {"Vertical\ufffdTab"}
    csv_text = client.get("kpi/export?format=csv").get_data(as_text=True)
    assert "Vertical\x0bTab" in csv_text  # CSV holds it as it is


# --- nesting ------------------------------------------------------------------------------

@pytest.mark.parametrize("keyed", [False, True])
def test_json_nested_beyond_reason_is_a_bad_request(client, org, keyed):
    client.login(org["eng_a1"])
    headers = {"Idempotency-Key": "nested-1"} if keyed else {}
    problem = assert_problem(raw_post(client, "visits/check-in", NESTED, **headers), 400, "MALFORMED_REQUEST")
    assert "JSON" in problem["detail"]
    assert count(Visit) == 0
    # The key was freed: the same key with a good body is a first request, not a replay.
    assert_problem(raw_post(client.client, "/api/v1/auth/login", NESTED), 400, "MALFORMED_REQUEST")


# --- the ends of the calendar --------------------------------------------------------------

@pytest.fixture
def field_job(factory, org):
    site = factory.site(lat=31.2304, lon=121.4737, radius_m=150)
    job = factory.job(site=site, engineer=org["eng_a1"], reported_at=utcnow() - timedelta(days=2))
    db.session.commit()
    return job


@pytest.mark.parametrize("query", [
    "jobs?from=0001-01-01T00:00:00%2B01:00",
    "jobs?to=9999-12-31T23:59:59-05:00",
    "jobs?from=1999-12-31T23:59:59Z",
    "jobs?from=2100-01-01T00:00:00Z",
])
def test_a_list_bound_outside_the_calendar_span_is_refused(client, org, query):
    client.login(org["admin"])
    problem = assert_problem(client.get(query), 422, "VALIDATION_ERROR")
    assert set(problem["errors"]) <= {"from", "to"}


def test_the_span_itself_is_accepted(client, org):
    client.login(org["admin"])
    assert client.get("jobs?from=2000-01-01T00:00:00Z&to=2099-12-31T23:59:59Z").status_code == 200
    # The year as written counts: the first hours of 2000 in Shanghai are 1999 in UTC.
    assert client.get("jobs?from=2000-01-01T00:00:00%2B08:00").status_code == 200


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_a_contact_at_the_ends_of_the_calendar_is_refused(client, org, field_job, at):
    client.login(org["eng_a1"])
    assert_problem(client.post(f"jobs/{field_job.id}/contact", json={"at": at}), 422, "VALIDATION_ERROR")
    db.session.expire_all()
    assert db.session.get(Job, field_job.id).first_contact_at is None


def test_a_job_reported_in_year_one_is_refused(client, org, factory):
    site = factory.site()
    db.session.commit()
    client.login(org["sup_a"])
    body = {"site_id": site.id, "title": "AC", "category": "hvac", "priority": "high",
            "reported_at": "0001-01-01T00:00:00+01:00"}
    problem = assert_problem(client.post("jobs", json=body), 422, "VALIDATION_ERROR")
    assert list(problem["errors"]) == ["reported_at"]
    body["reported_at"] = iso(utcnow())
    body["scheduled_for"] = "9999-12-31"
    problem = assert_problem(client.post("jobs", json=body), 422, "VALIDATION_ERROR")
    assert list(problem["errors"]) == ["scheduled_for"]
    assert count(Job) == 0


@pytest.mark.parametrize("path", [
    "kpi/team?period=9999-12", "kpi/export?period=9999-12", "kpi/team?period=0001-01",
    "kpi/team?period=1999-12", "kpi/engineers/{eng}?period=9999-12",
])
def test_a_kpi_period_outside_the_span_is_refused(client, org, path):
    client.login(org["admin"])
    response = client.get(path.format(eng=org["eng_a1"].id))
    assert list(assert_problem(response, 422, "VALIDATION_ERROR")["errors"]) == ["period"]


@pytest.mark.parametrize("period", ["9999-12", "0001-01", "1999-12"])
def test_closing_a_period_outside_the_span_is_refused(client, org, period):
    client.login(org["admin"])
    assert_problem(client.post(f"kpi/periods/{period}/close"), 422, "VALIDATION_ERROR")


def test_a_review_period_outside_the_span_is_refused(client, org):
    client.login(org["sup_a"])
    body = {"engineer_id": org["eng_a1"].id, "period": "9999-12", "summary": "s"}
    problem = assert_problem(client.post("reviews", json=body), 422, "VALIDATION_ERROR")
    assert "period" in problem["errors"]


# --- a clock set years ahead ----------------------------------------------------------------

def test_a_check_out_dated_years_ahead_is_refused_and_the_job_can_be_closed(client, org, field_job):
    client.login(org["eng_a1"])
    site = db.session.get(Site, field_job.site_id)
    visit = client.post("visits/check-in", json=check_in_body(field_job, site,
                                                             client_time=iso(utcnow() - timedelta(hours=1)))).json
    for at in ("9999-12-31T00:00:00Z", iso(utcnow() + timedelta(days=2))):
        response = client.post(f"visits/{visit['id']}/check-out", json=fix(site, client_time=at))
        assert list(assert_problem(response, 422, "VALIDATION_ERROR")["errors"]) == ["client_time"]
    db.session.expire_all()
    assert db.session.get(Visit, visit["id"]).out_client_time is None

    # An hour ahead is a clock set forward: taken and flagged, and the job still closes now.
    ahead = client.post(f"visits/{visit['id']}/check-out",
                        json=fix(site, client_time=iso(utcnow() + timedelta(hours=1))))
    assert ahead.status_code == 200 and "CLOCK_SKEW" in ahead.json["flags"]
    from tests.api.test_photos import JPEG, upload

    assert upload(client, field_job.id, JPEG, kind="after").status_code == 201
    checklist = {item: True for item in ("ppe_worn", "power_isolated", "area_cleaned", "customer_briefed")}
    closed = client.post(f"jobs/{field_job.id}/close",
                         json={"resolution": "Fixed", "fixed": True, "checklist": checklist})
    assert closed.status_code == 200, closed.get_data(as_text=True)


def test_a_check_in_a_day_ahead_is_flagged_a_little_more_is_refused(client, org, field_job):
    client.login(org["eng_a1"])
    site = db.session.get(Site, field_job.site_id)
    late = client.post("visits/check-in", json=check_in_body(
        field_job, site, client_time=iso(utcnow() + timedelta(days=1, minutes=1))))
    assert_problem(late, 422, "VALIDATION_ERROR")
    ok = client.post("visits/check-in", json=check_in_body(
        field_job, site, client_time=iso(utcnow() + timedelta(hours=23))))
    assert ok.status_code == 201 and "CLOCK_SKEW" in ok.json["flags"]


def test_login_password_stays_a_password(client, org):
    """A password is any text but the forbidden characters: no trimming, no refusal."""
    assert client.login(org["eng_a1"], PASSWORD).status_code == 200
