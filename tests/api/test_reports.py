"""The weekly report (workday.md, Reports): its figures checked against the KPI cards.

The week is 2024-W10, Monday 4 March to Monday 11 March 2024 (UTC unless a test says
otherwise); the previous week, 2024-W09, begins on 26 February. Every expected number is
worked out by hand in the comments from the rows the test creates.
"""
from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Alert
from tests.api.test_kpi_figures import at, complaint, feedback
from tests.support import ApiClient

WEEK = "2024-W10"


def closed_job(factory, engineer, reported: str, contact: str, closed: str, fixed: bool = True,
               mode: str = "field"):
    return factory.job(engineer=engineer, reported_at=at(reported), assigned_at=at(reported),
                       first_contact_at=at(contact), closed_at=at(closed), status="closed",
                       fixed=fixed, mode=mode, checklist_complete=True)


@pytest.fixture
def week(org, factory):
    """Team A (eng_a1, eng_a2) and eng_b1 of team B, in 2024-W10 and the week before."""
    a1, a2, b1 = org["eng_a1"], org["eng_a2"], org["eng_b1"]
    # J1: fixed at its one visit → first-time fix; first contact 20 min.
    j1 = closed_job(factory, a1, "2024-03-04 08:00", "2024-03-04 08:20", "2024-03-05 09:00")
    factory.visit(j1, at=at("2024-03-04 10:00"))
    # J2: fixed at the second visit → not first-time; first contact 30 min. Its first
    # visit was flagged and approved.
    j2 = closed_job(factory, a1, "2024-03-05 08:00", "2024-03-05 08:30", "2024-03-06 17:00")
    factory.visit(j2, at=at("2024-03-05 09:30"), status="approved",
                  decided_at=at("2024-03-05 12:00"))
    factory.visit(j2, at=at("2024-03-06 09:00"))
    # J3: remote and fixed → first-time fix; first contact 10 min. A visit of eng_a2's
    # (flagged, then rejected) is counted as a visit, a flag and a decision.
    j3 = closed_job(factory, a2, "2024-03-06 08:00", "2024-03-06 08:10", "2024-03-07 10:00",
                    mode="remote")
    factory.visit(j3, at=at("2024-03-06 10:00"), status="rejected",
                  decided_at=at("2024-03-06 12:00"), rejected_at=at("2024-03-06 12:00"))
    # J4: team B's, fixed at one visit; first contact 60 min.
    j4 = closed_job(factory, b1, "2024-03-06 08:00", "2024-03-06 09:00", "2024-03-07 10:00")
    factory.visit(j4, at=at("2024-03-06 11:00"))
    # J5: the previous week, not fixed; first contact 40 min.
    j5 = closed_job(factory, a1, "2024-02-27 08:00", "2024-02-27 08:40", "2024-02-28 10:00",
                    fixed=False)
    factory.visit(j5, at=at("2024-02-27 10:00"))
    # NPS: 10 → +100, 5 → −100, 8 → 0; J4's 9 → +100 (team B).
    feedback(j1, 10, "2024-03-06 10:00")
    feedback(j2, 5, "2024-03-07 10:00")
    feedback(j3, 8, "2024-03-08 10:00")
    feedback(j4, 9, "2024-03-08 10:00")
    complaint(j2, "2024-03-08 11:00")
    for n, (kind, engineer, dismissed) in enumerate((("SLA_RISK", a1, None),
                                                     ("SLA_RISK", a2, None),
                                                     ("KEYWORD", a1, None),
                                                     ("KEYWORD", a1, at("2024-03-08 09:00")),
                                                     ("FLAG_PATTERN", b1, None))):
        db.session.add(Alert(kind=kind, engineer_id=engineer.id, detail="x", params={},
                             dedupe_key=f"report-{n}", dismissed_at=dismissed))
    db.session.commit()
    return {"jobs": (j1, j2, j3, j4, j5)}


def report(app, user, query: str):
    client = ApiClient(app.test_client()).use_token(user)
    return client.get(f"/api/v1/reports/weekly?{query}")


def kpi(body, key):
    return next(k for k in body["kpis"] if k["key"] == key)


def activity(body):
    return {a["key"]: (a["week"], a["previous_week"]) for a in body["activity"]}


def test_team_week_figures_worked_by_hand(app, org, week):
    response = report(app, org["sup_a"], f"week={WEEK}")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["scope"], body["supervisor_id"], body["week"]) == ("team", org["sup_a"].id, WEEK)
    assert (body["previous_week"], body["month"], body["engineers"]) == ("2024-W09", "2024-03", 2)
    assert body["starts_at"] == "2024-03-04T00:00:00Z" and body["ends_at"] == "2024-03-11T00:00:00Z"
    # Jobs J1–J3 reported and closed (J5 the week before); visits J1, J2 ×2, J3's; flagged:
    # J2's approved and J3's rejected.
    assert activity(body) == {"jobs_reported": (3, 1), "jobs_closed": (3, 1), "visits": (4, 1),
                              "flagged_visits": (2, 0), "approved": (1, 0), "rejected": (1, 0)}
    ftf = kpi(body, "first_time_fix_rate")
    # J1 and J3 of three: 66.67 %; the week before J5 of one: 0 %.
    assert ftf["week"] == {"value": 66.67, "n": 3}
    assert ftf["previous_week"] == {"value": 0.0, "n": 1}
    assert ftf["change"] == 66.67
    # (20 + 30 + 10) / 3 = 20 min; the week before 40.
    contact = kpi(body, "first_contact_minutes")
    assert contact["week"] == {"value": 20.0, "n": 3} and contact["change"] == -20.0
    # (+100 − 100 + 0) / 3 = 0 points; one complaint.
    assert kpi(body, "nps")["week"] == {"value": 0.0, "n": 3}
    assert kpi(body, "complaints")["week"] == {"value": 1.0, "n": 1}
    # Both engineers are mid-field: the team's target is that scheme's.
    client = ApiClient(app.test_client()).use_token(org["sup_a"])
    scheme = {m["key"]: m for m in client.get("/api/v1/kpi/schemes/mid-field").get_json()["metrics"]}
    assert ftf["month_target"] == scheme["first_time_fix_rate"]["target"]
    assert kpi(body, "complaints")["month_target"] == 2 * scheme["complaints"]["target"]
    # Open alerts on the team: two SLA_RISK and one KEYWORD (the other is dismissed).
    assert body["open_alerts"] == {"total": 3, "by_kind": {"KEYWORD": 1, "SLA_RISK": 2}}
    for item in body["below_target"]:
        assert item["engineer_id"] in (org["eng_a1"].id, org["eng_a2"].id)
        assert item["total_score"] < item["pass_score"]


def test_week_figures_are_the_cards_figures(app, org, week):
    """Every March record of the team lies in 2024-W10, so the week's figures pool the
    engineers' March cards exactly: numerator and denominator alike."""
    body = report(app, org["admin"], f"week={WEEK}&supervisor_id={org['sup_a'].id}").get_json()
    client = ApiClient(app.test_client()).use_token(org["admin"])
    cards = [client.get(f"/api/v1/kpi/engineers/{org[e].id}?period=2024-03").get_json()
             for e in ("eng_a1", "eng_a2")]
    for key in ("first_time_fix_rate", "first_contact_minutes", "nps", "complaints"):
        rows = [next(m for m in card["metrics"] if m["key"] == key) for card in cards]
        # The card hides a figure on too few records (nps below 3); the records route
        # gives the same raw figure whatever its n.
        raw = [client.get(f"/api/v1/kpi/engineers/{org[e].id}/records?period=2024-03"
                          f"&metric={key}").get_json() for e in ("eng_a1", "eng_a2")]
        assert [r["n"] for r in raw] == [r["n"] for r in rows]
        n = sum(r["n"] for r in rows)
        figure = kpi(body, key)
        assert figure["week"]["n"] == figure["month_to_date"]["n"] == n
        if key == "complaints":
            assert figure["week"]["value"] == sum(r["value"] or 0 for r in rows)
        else:
            pooled = sum(r["value"] * r["n"] for r in raw if r["n"]) / n
            assert figure["week"]["value"] == pytest.approx(pooled, abs=0.01)
    # eng_a1: J1 yes, J2 no → 1 of 2; eng_a2: J3 → 1 of 1; the week: 2 of 3.
    ftf = {c["engineer_id"]: next(m for m in c["metrics"] if m["key"] == "first_time_fix_rate")
           for c in cards}
    assert (ftf[org["eng_a1"].id]["value"], ftf[org["eng_a1"].id]["n"]) == (50.0, 2)
    assert (ftf[org["eng_a2"].id]["value"], ftf[org["eng_a2"].id]["n"]) == (100.0, 1)


def test_company_week_counts_every_team(app, org, week):
    body = report(app, org["admin"], f"week={WEEK}").get_json()
    assert body["scope"] == "company" and body["supervisor_id"] is None
    # J4 of team B joins: FTF 3 of 4 = 75 %; NPS (100 − 100 + 0 + 100) / 4 = 25.
    assert kpi(body, "first_time_fix_rate")["week"] == {"value": 75.0, "n": 4}
    assert kpi(body, "nps")["week"] == {"value": 25.0, "n": 4}
    assert activity(body)["jobs_reported"] == (4, 1)
    assert activity(body)["visits"] == (5, 1)
    assert body["open_alerts"]["by_kind"] == {"FLAG_PATTERN": 1, "KEYWORD": 1, "SLA_RISK": 2}
    assert body["engineers"] == 4


@pytest.mark.config(TIMEZONE="Asia/Shanghai")
def test_week_bounds_follow_the_organisation_time_zone(app, org, factory):
    # Sunday 3 March 17:00 UTC is Monday 4 March 01:00 in Shanghai: in W10 there.
    closed_job(factory, org["eng_a1"], "2024-03-03 16:00", "2024-03-03 16:30", "2024-03-03 17:00")
    db.session.commit()
    body = report(app, org["sup_a"], f"week={WEEK}").get_json()
    assert body["starts_at"] == "2024-03-03T16:00:00Z"
    assert activity(body)["jobs_closed"] == (1, 0)
    assert activity(body)["jobs_reported"] == (1, 0)  # 16:00 UTC is midnight in Shanghai
    assert kpi(body, "first_time_fix_rate")["week"]["n"] == 1


def test_empty_week_has_no_figures(app, org):
    body = report(app, org["sup_b"], "week=2024-W10").get_json()
    assert kpi(body, "nps")["week"] == {"value": None, "n": 0}
    assert kpi(body, "nps")["change"] is None
    assert kpi(body, "complaints")["week"] == {"value": 0.0, "n": 0}
    assert body["below_target"] == [] and body["open_alerts"] == {"total": 0, "by_kind": {}}


def test_default_week_is_the_last_whole_week(app, org):
    from datetime import UTC, datetime, timedelta
    today = datetime.now(UTC).date()
    monday = today - timedelta(days=today.weekday() + 7)
    year, number, _ = monday.isocalendar()
    body = report(app, org["admin"], "").get_json()
    assert body["week"] == f"{year}-W{number:02d}"


@pytest.mark.parametrize("week", ["2024-10", "2024-W00", "2024-W54", "2021-W53", "1999-W10",
                                  "2100-W01", "2024-w10", "２０２４-W10", "2099-W52"])
def test_bad_week_is_422(app, org, week):
    response = report(app, org["admin"], f"week={week}")
    assert response.status_code == 422, week
    assert "week" in str(response.get_json())


@pytest.mark.parametrize("who, supervisor, status", [
    ("sup_a", "sup_b", 403), ("admin", "eng_a1", 404), ("admin", "admin", 404),
])
def test_team_scope(app, org, who, supervisor, status):
    response = report(app, org[who], f"week={WEEK}&supervisor_id={org[supervisor].id}")
    assert response.status_code == status


def test_supervisor_id_beyond_any_id_is_422(app, org):
    assert report(app, org["admin"], f"week={WEEK}&supervisor_id={2**31}").status_code == 422


def test_route_is_documented(app):
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/reports/weekly"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"week", "supervisor_id"}


# --- The PDF -------------------------------------------------------------------------


def pdf_text(response) -> str:
    import io

    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(response.get_data()))
    return "\n".join(page.extract_text() for page in reader.pages)


def pdf(app, user, query: str):
    return ApiClient(app.test_client()).use_token(user).get(f"/api/v1/reports/weekly.pdf?{query}")


def test_pdf_in_chinese_holds_the_figures(app, org, week):
    org["eng_a1"].name = "张伟"
    db.session.commit()
    response = pdf(app, org["sup_a"], f"week={WEEK}")  # Chinese by default
    assert response.status_code == 200
    assert response.content_type == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="weekly-report-{WEEK}-team-{org["sup_a"].id}.pdf"')
    text = pdf_text(response)
    for label in ("周报", "团队", "工作量", "关键指标", "首次修复率", "首次联系时长", "净推荐值",
                  "投诉", "本周", "上周", "本月目标", "未处理预警", "SLA 风险", "关键词"):
        assert label in text, label
    # The hand-worked figures: FTF 66.67 of 3 (last week 0 of 1, +66.67), first contact
    # 20 of 3, NPS 0 of 3; 3 open alerts.
    for figure in ("66.67 (3)", "0 (1)", "+66.67", "20 (3)", "-20", "2024-03-04", "2024-03-10"):
        assert figure in text, figure
    assert "张伟" in text  # below target this month: a name in Chinese renders and extracts
    assert "Weekly report" not in text


def test_pdf_in_english(app, org, week):
    response = pdf(app, org["admin"], f"week={WEEK}&lang=en")
    assert response.status_code == 200
    assert 'filename="weekly-report-2024-W10-company.pdf"' in response.headers["Content-Disposition"]
    text = pdf_text(response)
    for label in ("Weekly report", "Company", "First-time fix", "First contact", "NPS",
                  "Complaints", "Open alerts", "Flag pattern", "75 (4)", "25 (4)"):
        assert label in text, label
    assert "周报" not in text


@pytest.mark.parametrize("query", ["week=2024-W10&lang=fr", "week=2024-W60&lang=en", "lang="])
def test_pdf_bad_arguments_are_422(app, org, query):
    assert pdf(app, org["admin"], query).status_code == 422


def test_pdf_team_of_another_supervisor_is_403(app, org):
    assert pdf(app, org["sup_a"], f"week={WEEK}&supervisor_id={org['sup_b'].id}").status_code == 403


# --- The scheduled command -----------------------------------------------------------


def read_pdf(path) -> str:
    import io

    from pypdf import PdfReader

    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(path.read_bytes())).pages)


def test_command_writes_a_team_report_by_email(runner, org, week, tmp_path):
    out = tmp_path / "report.pdf"
    result = runner.invoke(args=["weekly-report", "--team", "SUP.A@example.com", "--week", WEEK,
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"{WEEK} (team) written to {out}" in result.output
    text = read_pdf(out)
    assert "周报" in text and "团队" in text and "66.67 (3)" in text


def test_command_writes_the_company_report_in_english_by_id(runner, org, week, tmp_path):
    out = tmp_path / "company.pdf"
    result = runner.invoke(args=["weekly-report", "--company", "--week", WEEK, "--out", str(out),
                                 "--lang", "en"])
    assert result.exit_code == 0, result.output
    text = read_pdf(out)
    assert "Weekly report" in text and "Company" in text and "75 (4)" in text
    by_id = tmp_path / "team.pdf"
    result = runner.invoke(args=["weekly-report", "--team", str(org["sup_a"].id), "--week", WEEK,
                                 "--out", str(by_id), "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert "66.67 (3)" in read_pdf(by_id)


def test_command_default_file_name(runner, org, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(args=["weekly-report", "--company", "--week", WEEK])
    assert result.exit_code == 0, result.output
    assert (tmp_path / f"weekly-report-{WEEK}-company.pdf").read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize("args, message", [
    (["--week", WEEK], "--team SUPERVISOR or --company"),
    (["--company", "--team", "sup.a@example.com", "--week", WEEK], "--team SUPERVISOR or --company"),
    (["--team", "nobody@example.com", "--week", WEEK], "No supervisor nobody@example.com"),
    (["--team", "eng.a1@example.com", "--week", WEEK], "No supervisor"),
    (["--team", "99999999999", "--week", WEEK], "No supervisor"),
    (["--company", "--week", "2024-W60"], "YYYY-Www"),
    (["--company", "--week", "2024-W10", "--lang", "fr"], "fr"),
])
def test_command_refuses_bad_arguments(runner, org, tmp_path, args, message):
    out = tmp_path / "x.pdf"
    result = runner.invoke(args=["weekly-report", *args, "--out", str(out)])
    assert result.exit_code == 2
    assert message in result.output
    assert not out.exists()


def test_the_week_in_progress_is_judged_against_this_month(app, org):
    from datetime import UTC, datetime, timedelta
    today = datetime.now(UTC).date()
    year, number, _ = today.isocalendar()
    body = report(app, org["admin"], f"week={year}-W{number:02d}").get_json()
    assert body["month"] == today.strftime("%Y-%m")
    monday = today - timedelta(days=today.weekday())
    following = monday + timedelta(days=7)
    year, number, _ = following.isocalendar()
    assert report(app, org["admin"], f"week={year}-W{number:02d}").status_code == 422
