"""Ticket intake: the sources admins manage and the signed webhook that makes one job
per ticket, refusing forged, stale, unknown, disabled and mis-mapped deliveries."""
from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
import sqlalchemy as sa

from app.api.intake.schemas import SERVICENOW_MAPPING, ZENDESK_MAPPING
from app.api.intake.webhook_doc import SERVICENOW_PAYLOAD, ZENDESK_PAYLOAD
from app.domain.intake import SIGNATURE_HEADER, TIMESTAMP_HEADER, map_ticket, mapping_errors, sign
from app.extensions import db
from app.models import AuditEntry, IntakeDelivery, IntakeSource, Job
from app.models.types import utcnow
from app.services import intake as intake_service
from tests.support import ApiClient, all_at_once


def servicenow_mapping(site_id: int) -> dict:
    return {
        "external_id": "/number",
        "title": "/short_description",
        "description": "/description",
        "priority": {"path": "/priority", "map": {"1": "urgent", "2": "high", "3": "normal"},
                     "default": "normal"},
        "category": {"path": "/category", "map": {"facilities": "hvac"}, "default": "appliance"},
        "site": {"path": "/location/value", "map": {"LOC-SH-0001": site_id}},
        "reported_at": {"path": "/opened_at", "timezone": "Asia/Shanghai"},
        "scheduled_for": "/u_scheduled_date",
        "asset_ref": "/cmdb_ci/display_value",
    }


def zendesk_mapping(site_id: int) -> dict:
    return {
        "external_id": "/ticket/id",
        "title": "/ticket/subject",
        "description": "/ticket/description",
        "priority": {"path": "/ticket/priority", "default": "normal"},
        "category": {"path": "/ticket/custom_fields/0/value", "default": "appliance"},
        "site": {"path": "/ticket/organization/external_id", "map": {"org-shanghai-lujiazui": site_id}},
        "reported_at": "/ticket/created_at",
    }


@pytest.fixture
def admin(client, org) -> ApiClient:
    client.use_token(org["admin"])
    return client


@pytest.fixture
def site(factory):
    site = factory.site()
    db.session.commit()
    return site


def create_source(admin: ApiClient, key: str, mapping: dict, **extra) -> dict:
    response = admin.post("intake-sources", json={"key": key, "name": key.title(),
                                                  "mapping": mapping, **extra})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.json


@pytest.fixture
def servicenow(admin, site) -> dict:
    return create_source(admin, "servicenow", servicenow_mapping(site.id))


def deliver(app, key: str, payload, secret: str, at: int | None = None,
            signature: str | None = None, headers: dict | None = None):
    """POST the payload to the webhook, signed as a desk would, without any sign-in."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    timestamp = str(at if at is not None else int(time.time()))
    sent = {TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature or sign(secret, timestamp, body)}
    sent.update(headers or {})
    sent = {name: value for name, value in sent.items() if value is not None}
    return app.test_client().post(f"/api/v1/intake/{key}", data=body, headers=sent,
                                  content_type="application/json")


def deliveries(**where) -> list[IntakeDelivery]:
    db.session.expire_all()
    query = sa.select(IntakeDelivery).order_by(IntakeDelivery.id)
    for name, value in where.items():
        query = query.where(getattr(IntakeDelivery, name) == value)
    return list(db.session.scalars(query))


def jobs() -> list[Job]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Job).order_by(Job.id)))


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == code
    return response.json


# --- sources -------------------------------------------------------------------------

def test_an_admin_configures_a_source_whose_secret_is_shown_once_and_stored_encrypted(admin, site, app):
    body = create_source(admin, "servicenow", servicenow_mapping(site.id))
    secret = body["secret"]
    assert secret.startswith("whsec_") and len(secret) > 40
    assert body["key"] == "servicenow" and body["active"] is True
    assert body["mapping"]["site"]["map"] == {"LOC-SH-0001": site.id}

    shown = admin.get(f"intake-sources/{body['id']}").json
    assert "secret" not in shown and shown["key"] == "servicenow"
    assert all("secret" not in item for item in admin.get("intake-sources").json["items"])

    row = db.session.get(IntakeSource, body["id"])
    assert secret not in row.secret_ciphertext
    assert intake_service.accepted_secrets(row) == [secret]
    # Another SECRET_KEY cannot open it: a reader of the database alone cannot sign.
    key = app.config["SECRET_KEY"]
    app.config["SECRET_KEY"] = "another key"
    assert intake_service.accepted_secrets(row) == []
    # After a change of SECRET_KEY, the former one in SECRET_KEY_FALLBACKS still opens it.
    app.config["SECRET_KEY_FALLBACKS"] = [key]
    assert intake_service.accepted_secrets(row) == [secret]

    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "intake_source.create"))
    assert entry.target_id == body["id"] and secret not in json.dumps(entry.detail)


def test_a_replayed_creation_answers_the_source_without_its_secret(admin, site):
    key = str(uuid.uuid4())
    request = {"key": "zendesk", "name": "Zendesk", "mapping": zendesk_mapping(site.id)}
    first = admin.post("intake-sources", json=request, headers={"Idempotency-Key": key})
    again = admin.post("intake-sources", json=request, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert first.json["secret"] and again.json["secret"] is None
    assert again.json["id"] == first.json["id"]


@pytest.mark.parametrize("change, field, message", [
    (lambda m: m.pop("title"), "title", "Required"),
    (lambda m: m.update(priority={"path": "/p", "map": {"1": "asap"}}), "priority", "priority values"),
    (lambda m: m.update(site={"path": "/loc", "map": {"X": 999999}}), "site", "existing sites"),
    (lambda m: m.update(category={"value": "rocketry"}), "category", "known categories"),
    (lambda m: m.update(title="no-slash"), "title", "JSON Pointer"),
    (lambda m: m.update(colour="/c"), "colour", "Not a mapped field"),
    (lambda m: m.update(reported_at={"path": "/t", "timezone": "Mars/Olympus"}), "reported_at", "IANA"),
    (lambda m: m.update(title={"path": "/t", "value": "x"}), "title", "not both"),
])
def test_a_mapping_that_cannot_work_is_refused_by_field(admin, site, change, field, message):
    mapping = servicenow_mapping(site.id)
    change(mapping)
    response = admin.post("intake-sources", json={"key": "desk", "name": "Desk", "mapping": mapping})
    body = assert_problem(response, 422, "VALIDATION_ERROR")
    assert any(message in text for text in body["errors"]["mapping"][field]), body
    assert db.session.scalar(sa.select(sa.func.count(IntakeSource.id))) == 0


@pytest.mark.parametrize("key, status", [("csv", 422), ("Bad Key", 422), ("-x", 422), ("a" * 41, 422)])
def test_source_keys_are_slugs_and_csv_is_reserved(admin, site, key, status):
    response = admin.post("intake-sources", json={"key": key, "name": "X",
                                                  "mapping": servicenow_mapping(site.id)})
    assert response.status_code == status, response.get_data(as_text=True)


def test_a_key_is_taken_once(admin, servicenow, site):
    response = admin.post("intake-sources", json={"key": "servicenow", "name": "Again",
                                                  "mapping": servicenow_mapping(site.id)})
    assert_problem(response, 409, "CONFLICT")


def test_disable_enable_and_mapping_changes_are_audited(admin, servicenow, site):
    source_id = servicenow["id"]
    assert admin.patch(f"intake-sources/{source_id}", json={"active": False}).json["active"] is False
    assert admin.patch(f"intake-sources/{source_id}", json={"active": True}).json["active"] is True
    mapping = servicenow_mapping(site.id) | {"title": "/number"}
    assert admin.patch(f"intake-sources/{source_id}", json={"mapping": mapping}).json["mapping"]["title"] == "/number"
    actions = list(db.session.scalars(sa.select(AuditEntry.action).where(
        AuditEntry.target_type == "intake_source").order_by(AuditEntry.id)))
    assert actions == ["intake_source.create", "intake_source.disable", "intake_source.enable",
                       "intake_source.update"]
    bad = admin.patch(f"intake-sources/{source_id}", json={"mapping": {"title": "/x"}})
    assert_problem(bad, 422, "VALIDATION_ERROR")
    assert admin.patch("intake-sources/999", json={"active": False}).status_code == 404


def test_a_rotated_secret_replaces_the_old_one_at_once_or_after_a_grace_period(app, admin, servicenow):
    old = servicenow["secret"]
    rotated = admin.post(f"intake-sources/{servicenow['id']}/rotate-secret", json={})
    assert rotated.status_code == 200 and rotated.json["secret"] not in (None, old)
    new = rotated.json["secret"]
    assert_problem(deliver(app, "servicenow", SERVICENOW_PAYLOAD, old), 401, "SIGNATURE_INVALID")
    assert deliver(app, "servicenow", SERVICENOW_PAYLOAD, new).status_code == 201

    graced = admin.post(f"intake-sources/{servicenow['id']}/rotate-secret",
                        json={"keep_previous_hours": 24}).json
    assert graced["previous_secret_expires_at"] is not None
    assert deliver(app, "servicenow", SERVICENOW_PAYLOAD, new).status_code == 200
    assert deliver(app, "servicenow", SERVICENOW_PAYLOAD, graced["secret"]).status_code == 200
    details = db.session.scalars(sa.select(AuditEntry.detail).where(
        AuditEntry.action == "intake_source.rotate_secret").order_by(AuditEntry.id)).all()
    assert details == [{"keep_previous_hours": 0}, {"keep_previous_hours": 24}]
    too_long = admin.post(f"intake-sources/{servicenow['id']}/rotate-secret",
                          json={"keep_previous_hours": 169})
    assert_problem(too_long, 422, "VALIDATION_ERROR")


# --- the webhook ---------------------------------------------------------------------

def test_a_servicenow_incident_becomes_a_job_through_its_mapping(app, servicenow, site):
    response = deliver(app, "servicenow", SERVICENOW_PAYLOAD, servicenow["secret"])
    assert response.status_code == 201, response.get_data(as_text=True)
    receipt = response.json
    assert receipt["outcome"] == "created" and receipt["external_id"] == "INC0010042"
    assert response.headers["Location"].endswith(f"/api/v1/jobs/{receipt['job_id']}")
    job = db.session.get(Job, receipt["job_id"])
    assert (job.source, job.external_id, job.site_id) == ("servicenow", "INC0010042", site.id)
    assert job.title == SERVICENOW_PAYLOAD["short_description"]
    assert (job.priority, job.category, job.status, job.created_by_id) == ("high", "hvac", "new", None)
    assert job.reported_at.isoformat() == "2026-12-01T00:15:00+00:00"  # 08:15 in Shanghai
    assert job.scheduled_for.isoformat() == "2026-12-02" and job.asset_ref == "AC-3F-07"
    [logged] = deliveries()
    assert (logged.outcome, logged.status, logged.job_id, logged.code) == ("created", 201, job.id, None)


def test_a_zendesk_ticket_becomes_a_job_through_its_mapping(app, admin, site):
    secret = create_source(admin, "zendesk", zendesk_mapping(site.id))["secret"]
    response = deliver(app, "zendesk", ZENDESK_PAYLOAD, secret)
    assert response.status_code == 201, response.get_data(as_text=True)
    job = db.session.get(Job, response.json["job_id"])
    assert (job.external_id, job.priority, job.category) == ("35436", "high", "appliance")
    assert job.reported_at.isoformat() == "2026-12-01T09:30:00+00:00"


def test_the_same_ticket_delivered_twice_makes_one_job(app, servicenow, admin):
    first = deliver(app, "servicenow", SERVICENOW_PAYLOAD, servicenow["secret"])
    changed = SERVICENOW_PAYLOAD | {"short_description": "Updated text"}
    again = deliver(app, "servicenow", changed, servicenow["secret"])
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json["job_id"] == first.json["job_id"] and again.json["outcome"] == "duplicate"
    assert len(jobs()) == 1 and jobs()[0].title != "Updated text"
    assert [d.outcome for d in deliveries()] == ["created", "duplicate"]
    listed = admin.get(f"jobs/{first.json['job_id']}").json
    assert (listed["source"], listed["external_id"]) == ("servicenow", "INC0010042")


def test_a_replayed_delivery_answers_the_same_job_and_a_late_one_is_stale(app, servicenow):
    body = json.dumps(SERVICENOW_PAYLOAD).encode()
    at = int(time.time())
    signature = sign(servicenow["secret"], str(at), body)
    first = deliver(app, "servicenow", body, "", at=at, signature=signature)
    replay = deliver(app, "servicenow", body, "", at=at, signature=signature)
    assert (first.status_code, replay.status_code) == (201, 200)
    late = at - 301
    stale = deliver(app, "servicenow", body, servicenow["secret"], at=late)
    assert_problem(stale, 401, "TIMESTAMP_STALE")
    ahead = deliver(app, "servicenow", body, servicenow["secret"], at=at + 400)
    assert_problem(ahead, 401, "TIMESTAMP_STALE")
    assert len(jobs()) == 1
    assert [d.code for d in deliveries(outcome="refused")] == ["TIMESTAMP_STALE", "TIMESTAMP_STALE"]


@pytest.mark.parametrize("headers, code", [
    ({SIGNATURE_HEADER: None}, "SIGNATURE_MISSING"),
    ({TIMESTAMP_HEADER: None}, "SIGNATURE_MISSING"),
    ({TIMESTAMP_HEADER: "yesterday"}, "TIMESTAMP_INVALID"),
    ({SIGNATURE_HEADER: "sha256=" + "0" * 64}, "SIGNATURE_INVALID"),
    ({SIGNATURE_HEADER: "md5=abc"}, "SIGNATURE_INVALID"),
])
def test_unsigned_and_forged_deliveries_are_refused_and_recorded(app, servicenow, headers, code):
    response = deliver(app, "servicenow", SERVICENOW_PAYLOAD, servicenow["secret"], headers=headers)
    assert_problem(response, 401, code)
    assert jobs() == []
    [logged] = deliveries()
    assert (logged.outcome, logged.status, logged.code, logged.source_id) == (
        "refused", 401, code, servicenow["id"])


def test_a_body_signed_with_another_secret_or_changed_after_signing_is_forged(app, servicenow):
    assert_problem(deliver(app, "servicenow", SERVICENOW_PAYLOAD, "whsec_guessed"), 401,
                   "SIGNATURE_INVALID")
    body = json.dumps(SERVICENOW_PAYLOAD).encode()
    at = str(int(time.time()))
    signature = sign(servicenow["secret"], at, body)
    tampered = body.replace(b"INC0010042", b"INC0099999")
    assert_problem(deliver(app, "servicenow", tampered, "", at=int(at), signature=signature),
                   401, "SIGNATURE_INVALID")
    assert jobs() == [] and [d.code for d in deliveries()] == ["SIGNATURE_INVALID"] * 2


def test_an_unknown_source_is_refused_and_recorded(app, servicenow):
    response = deliver(app, "jira", SERVICENOW_PAYLOAD, servicenow["secret"])
    assert_problem(response, 404, "UNKNOWN_SOURCE")
    [logged] = deliveries()
    assert (logged.source_id, logged.source_key, logged.code) == (None, "jira", "UNKNOWN_SOURCE")


def test_a_disabled_source_is_refused_and_recorded(app, admin, servicenow):
    admin.patch(f"intake-sources/{servicenow['id']}", json={"active": False})
    response = deliver(app, "servicenow", SERVICENOW_PAYLOAD, servicenow["secret"])
    assert_problem(response, 403, "SOURCE_DISABLED")
    assert jobs() == [] and [d.code for d in deliveries()] == ["SOURCE_DISABLED"]


@pytest.mark.parametrize("payload, fields", [
    ({k: v for k, v in SERVICENOW_PAYLOAD.items() if k != "short_description"}, ["title"]),
    (SERVICENOW_PAYLOAD | {"location": {"value": "LOC-UNKNOWN"}}, ["site"]),
    (SERVICENOW_PAYLOAD | {"opened_at": "last tuesday", "number": None}, ["external_id", "reported_at"]),
    (SERVICENOW_PAYLOAD | {"opened_at": "2999-01-01 00:00:00"}, ["reported_at"]),
    (SERVICENOW_PAYLOAD | {"u_scheduled_date": "soon"}, ["scheduled_for"]),
    ([1, 2, 3], ["external_id", "site", "title"]),
])
def test_a_payload_the_mapping_cannot_read_is_refused_by_field_and_recorded(app, servicenow, payload, fields):
    response = deliver(app, "servicenow", payload, servicenow["secret"])
    body = assert_problem(response, 422, "MAPPING_FAILED")
    assert sorted(body["errors"]["mapping"]) == fields
    assert jobs() == [] and [d.code for d in deliveries()] == ["MAPPING_FAILED"]


def test_a_mapped_site_deleted_since_or_a_category_removed_is_a_mapping_failure(app, admin, site):
    mapping = servicenow_mapping(site.id) | {"category": {"path": "/category"}}
    secret = create_source(admin, "desk", mapping)["secret"]
    response = deliver(app, "desk", SERVICENOW_PAYLOAD, secret)  # category "facilities"
    body = assert_problem(response, 422, "MAPPING_FAILED")
    assert list(body["errors"]["mapping"]) == ["category"]


def test_a_signed_body_that_is_not_json_is_malformed(app, servicenow):
    response = deliver(app, "servicenow", b"{not json", servicenow["secret"])
    assert_problem(response, 400, "MALFORMED_REQUEST")
    assert [d.code for d in deliveries()] == ["MALFORMED_REQUEST"]


def test_the_log_keeps_no_secret_nor_body_and_the_admin_filters_it(app, admin, servicenow):
    deliver(app, "servicenow", SERVICENOW_PAYLOAD, servicenow["secret"])
    deliver(app, "servicenow", SERVICENOW_PAYLOAD, "whsec_wrong")
    deliver(app, "nowhere", SERVICENOW_PAYLOAD, "x")
    listed = admin.get("intake-deliveries").json
    assert listed["total"] == 3
    assert [item["code"] for item in listed["items"]] == ["UNKNOWN_SOURCE", "SIGNATURE_INVALID", None]
    text = json.dumps(listed)
    assert servicenow["secret"] not in text and "short_description" not in text
    refused = admin.get("intake-deliveries?outcome=refused").json
    assert refused["total"] == 2
    by_source = admin.get(f"intake-deliveries?source_id={servicenow['id']}&code=SIGNATURE_INVALID").json
    assert [item["code"] for item in by_source["items"]] == ["SIGNATURE_INVALID"]
    assert admin.get("intake-deliveries?outcome=lost").status_code == 422


def test_the_webhook_needs_no_session_and_no_csrf_header(app, client, org, servicenow):
    client.login(org["admin"])  # a browser session cookie, and no X-CSRF-Token sent
    body = json.dumps(SERVICENOW_PAYLOAD).encode()
    at = str(int(time.time()))
    response = client.post("intake/servicenow", data=body, csrf=False, content_type="application/json",
                           headers={TIMESTAMP_HEADER: at,
                                    SIGNATURE_HEADER: sign(servicenow["secret"], at, body)})
    assert response.status_code == 201, response.get_data(as_text=True)


def test_a_body_over_one_megabyte_is_refused(app, servicenow):
    payload = SERVICENOW_PAYLOAD | {"description": "x" * (1024 * 1024)}
    response = deliver(app, "servicenow", payload, servicenow["secret"])
    assert_problem(response, 413, "PAYLOAD_TOO_LARGE")
    assert jobs() == []
    [logged] = deliveries()
    assert (logged.code, logged.status, logged.body_bytes) == ("PAYLOAD_TOO_LARGE", 413, 0)


def test_long_text_from_a_desk_is_cut_not_refused(app, servicenow):
    payload = SERVICENOW_PAYLOAD | {"short_description": "漏" * 500, "description": "d" * 9000}
    response = deliver(app, "servicenow", payload, servicenow["secret"])
    assert response.status_code == 201
    job = jobs()[0]
    assert len(job.title) == 200 and job.title.endswith("…") and len(job.description) == 5000


@pytest.mark.config(INTAKE_RATE_LIMIT="3 per minute")
def test_deliveries_are_rate_limited_per_source(app, admin, site):
    secret = create_source(admin, "servicenow", servicenow_mapping(site.id))["secret"]
    statuses = [deliver(app, "servicenow", SERVICENOW_PAYLOAD | {"number": f"INC{i}"}, secret).status_code
                for i in range(4)]
    assert statuses == [201, 201, 201, 429]
    other = deliver(app, "elsewhere", SERVICENOW_PAYLOAD, secret)
    assert other.status_code == 404  # another source's count is its own


def test_concurrent_deliveries_of_one_ticket_make_exactly_one_job(app, servicenow):
    results = all_at_once([lambda: deliver(app, "servicenow", SERVICENOW_PAYLOAD, servicenow["secret"])
                        for _ in range(6)])
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200] * 5 + [201], [r if isinstance(r, Exception) else r.get_data(as_text=True)
                                          for r in results]
    assert len({r.json["job_id"] for r in results}) == 1 and len(jobs()) == 1


def test_when_both_deliveries_miss_each_other_the_unique_index_keeps_one_job(app, servicenow, monkeypatch):
    """Both deliveries look the ticket up before either has inserted it (forced here): the
    unique index on (source, external_id) refuses the second insert, which then answers
    the first one's job."""
    real = intake_service._stored_job
    first_look = threading.local()

    def blind_first_look(source_key, external_id):
        if not getattr(first_look, "done", False):
            first_look.done = True
            return None
        return real(source_key, external_id)

    monkeypatch.setattr(intake_service, "_stored_job", blind_first_look)
    results = all_at_once([lambda: deliver(app, "servicenow", SERVICENOW_PAYLOAD, servicenow["secret"])
                        for _ in range(2)])
    assert sorted(r.status_code for r in results) == [200, 201], results
    assert len({r.json["job_id"] for r in results}) == 1 and len(jobs()) == 1


def test_the_openapi_document_shows_how_to_sign_and_two_desks_payloads(app):
    document = app.test_client().get("/api/v1/openapi.json").json
    webhook = document["paths"]["/api/v1/intake/{source}"]["post"]
    examples = webhook["requestBody"]["content"]["application/json"]["examples"]
    assert examples["servicenow"]["value"]["number"] == "INC0010042"
    assert examples["zendesk"]["value"]["ticket"]["id"] == 35436
    assert {p["name"] for p in webhook["parameters"] if p["in"] == "header"} == {
        SIGNATURE_HEADER, TIMESTAMP_HEADER}
    assert "HMAC-SHA256" in webhook["description"] and set(webhook["responses"]) >= {"200", "201"}
    # The documented mappings are valid and read the documented payloads.
    for payload, mapping in ((SERVICENOW_PAYLOAD, SERVICENOW_MAPPING), (ZENDESK_PAYLOAD, ZENDESK_MAPPING)):
        assert mapping_errors(mapping) == {}
        ticket = map_ticket(payload, mapping, utcnow(), 300)
        assert ticket.site_id == 1 and ticket.title and ticket.external_id


def test_nul_characters_in_the_key_or_the_ticket_never_reach_the_database(app, servicenow):
    response = deliver(app, "bad%00key", SERVICENOW_PAYLOAD, servicenow["secret"])
    assert_problem(response, 404, "UNKNOWN_SOURCE")
    assert deliveries()[0].source_key == "badkey"
    payload = SERVICENOW_PAYLOAD | {"number": "INC\u00001", "short_description": "Leak\u0000"}
    response = deliver(app, "servicenow", payload, servicenow["secret"])
    assert response.status_code == 201, response.get_data(as_text=True)
    assert (jobs()[0].external_id, jobs()[0].title) == ("INC1", "Leak")


def test_a_rule_whose_path_is_not_a_pointer_is_refused(admin, site):
    mapping = servicenow_mapping(site.id) | {"title": {"path": None}}
    response = admin.post("intake-sources", json={"key": "desk", "name": "Desk", "mapping": mapping})
    body = assert_problem(response, 422, "VALIDATION_ERROR")
    assert "title" in body["errors"]["mapping"]


def test_after_a_change_of_secret_key_the_log_says_the_secret_is_unreadable(app, admin, servicenow):
    app.config["SECRET_KEY"] = "a new key, the old one forgotten"
    response = deliver(app, "servicenow", SERVICENOW_PAYLOAD, servicenow["secret"])
    assert_problem(response, 401, "SECRET_UNREADABLE")
    assert [d.code for d in deliveries()] == ["SECRET_UNREADABLE"]
    secret = admin.post(f"intake-sources/{servicenow['id']}/rotate-secret", json={}).json["secret"]
    assert deliver(app, "servicenow", SERVICENOW_PAYLOAD, secret).status_code == 201
