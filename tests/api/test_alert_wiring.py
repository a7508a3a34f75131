"""Early warnings raised where the records are saved: jobs, closes, visits, the scan."""
from __future__ import annotations

import io
from datetime import timedelta

import sqlalchemy as sa
from PIL import Image

from app.extensions import db
from app.models import Alert, Visit
from app.models.types import utcnow
from tests.support import ApiClient


def alerts(kind: str) -> list[Alert]:
    return list(db.session.scalars(sa.select(Alert).where(Alert.kind == kind).order_by(Alert.id)))


def iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_a_job_description_with_a_watch_list_term_raises_keyword(app, org, factory):
    site = factory.site()
    client = ApiClient(app.test_client()).use_token(org["sup_a"])
    response = client.post("jobs", json={
        "site_id": site.id, "title": "Leak", "category": "hvac", "priority": "high",
        "description": "客户说又坏了，要投诉", "engineer_id": org["eng_a1"].id})
    assert response.status_code == 201, response.json
    [alert] = alerts("KEYWORD")
    assert alert.job_id == response.json["id"] and alert.engineer_id == org["eng_a1"].id
    assert set(alert.matched) == {"又坏了", "投诉"}


def test_a_close_whose_resolution_names_a_refund_raises_keyword(app, org, factory):
    job = factory.job(engineer=org["eng_a1"], mode="remote")
    client = ApiClient(app.test_client()).use_token(org["eng_a1"])
    image = io.BytesIO()
    Image.new("RGB", (64, 48), "white").save(image, "JPEG")
    image.seek(0)
    uploaded = client.post(f"jobs/{job.id}/photos", data={"file": (image, "a.jpg"), "kind": "after"},
                           content_type="multipart/form-data")
    assert uploaded.status_code == 201, uploaded.json
    closed = client.post(f"jobs/{job.id}/close", json={
        "resolution": "Customer asked for a refund", "fixed": False,
        "checklist": {"ppe_worn": True, "power_isolated": True, "area_cleaned": True,
                      "customer_briefed": True}})
    assert closed.status_code == 200, closed.json
    [alert] = alerts("KEYWORD")
    assert alert.job_id == job.id and alert.matched == ["refund"]


def test_three_flagged_check_ins_raise_one_flag_pattern(app, org, factory):
    client = ApiClient(app.test_client()).use_token(org["eng_a1"])
    site = factory.site(lat=31.2, lon=121.4)
    for n in range(4):
        job = factory.job(site=site, engineer=org["eng_a1"])
        at = utcnow() - timedelta(minutes=30 - n * 5)
        response = client.post("visits/check-in", json={
            "job_id": job.id, "lat": 31.3 + n * 0.0001, "lon": 121.4, "accuracy_m": 10,
            "client_time": iso(at)})
        assert response.status_code == 201 and "OUTSIDE_GEOFENCE" in response.json["flags"]
        client.post(f"visits/{response.json['id']}/check-out", json={
            "lat": 31.3 + n * 0.0001, "lon": 121.4001, "accuracy_m": 10,
            "client_time": iso(at + timedelta(minutes=2))})
    [alert] = alerts("FLAG_PATTERN")
    assert alert.engineer_id == org["eng_a1"].id


def test_scan_alerts_flags_open_visits_and_overdue_contacts(runner, org, factory):
    job = factory.job(engineer=org["eng_a1"], priority="urgent",
                      assigned_at=utcnow() - timedelta(minutes=31))
    stale = factory.visit(job, at=utcnow() - timedelta(hours=13), minutes=None)
    db.session.commit()
    result = runner.invoke(args=["scan-alerts"])
    assert result.exit_code == 0, result.output
    assert "NO_CHECKOUT: 1" in result.output and "SLA_RISK: 1" in result.output
    visit = db.session.get(Visit, stale.id)
    db.session.refresh(visit)
    assert "NO_CHECKOUT" in visit.flags and visit.status == "flagged"
    [sla] = alerts("SLA_RISK")
    assert sla.job_id == job.id
    again = runner.invoke(args=["scan-alerts"])
    assert "NO_CHECKOUT: 0" in again.output and "SLA_RISK: 0" in again.output
