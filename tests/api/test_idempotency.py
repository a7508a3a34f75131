"""Idempotency-Key: replay, reuse, in-flight duplicates, per-user keys, retries."""
from __future__ import annotations

import io
import threading
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app import idempotency
from app.extensions import db
from app.models import IdempotencyRecord, Site
from app.models.types import utcnow
from tests.api.test_app import assert_problem
from tests.support import ApiClient

BODY = {"name": "Depot", "customer_name": "ACME", "address": "1 Road", "lat": 31.2, "lon": 121.4}


def sites() -> int:
    return db.session.scalar(sa.select(sa.func.count(Site.id)))


def post(client, key, body=BODY, **kw):
    return client.post("sites", json=body, headers={"Idempotency-Key": key}, **kw)


def test_a_repeat_replays_the_stored_response_and_changes_nothing(client, org):
    client.login(org["sup_a"])
    key = str(uuid.uuid4())
    first = post(client, key)
    second = post(client, key)
    assert first.status_code == second.status_code == 201
    assert second.get_json() == first.get_json()
    assert second.headers["Location"] == first.headers["Location"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert sites() == 1
    assert db.session.scalar(sa.select(sa.func.count(IdempotencyRecord.id))) == 1


def test_the_same_key_with_another_body_is_refused(client, org):
    client.login(org["sup_a"])
    key = str(uuid.uuid4())
    assert post(client, key).status_code == 201
    assert_problem(post(client, key, {**BODY, "name": "Other"}), 422, "IDEMPOTENCY_KEY_REUSED")
    # Same body, but another path or method is another request too.
    response = client.patch("sites/1", json=BODY, headers={"Idempotency-Key": key})
    assert_problem(response, 422, "IDEMPOTENCY_KEY_REUSED")
    assert sites() == 1


def test_key_order_in_the_body_does_not_matter(client, org):
    client.login(org["sup_a"])
    key = str(uuid.uuid4())
    assert post(client, key).status_code == 201
    reordered = dict(reversed(list(BODY.items())))
    assert post(client, key, reordered).headers.get("Idempotent-Replayed") == "true"


def test_keys_belong_to_their_user(app, org):
    key = str(uuid.uuid4())
    a = ApiClient(app.test_client()).use_token(org["sup_a"])
    b = ApiClient(app.test_client()).use_token(org["sup_b"])
    first, second = post(a, key), post(b, key)
    assert first.status_code == second.status_code == 201
    assert first.get_json()["id"] != second.get_json()["id"]
    assert "Idempotent-Replayed" not in second.headers
    assert sites() == 2


def test_a_failed_request_stores_nothing_and_may_be_retried(client, org):
    client.login(org["sup_a"])
    key = str(uuid.uuid4())
    assert_problem(post(client, key, {**BODY, "lat": 91}), 422, "VALIDATION_ERROR")
    assert db.session.scalar(sa.select(sa.func.count(IdempotencyRecord.id))) == 0
    assert post(client, key).status_code == 201
    assert sites() == 1


def test_a_forbidden_request_stores_nothing(client, org):
    client.login(org["eng_a1"])
    key = str(uuid.uuid4())
    assert_problem(post(client, key), 403, "FORBIDDEN")
    assert db.session.scalar(sa.select(sa.func.count(IdempotencyRecord.id))) == 0


def test_a_duplicate_in_flight_gets_409_until_the_lease_ends(client, org):
    client.login(org["sup_a"])
    key = str(uuid.uuid4())
    claim = IdempotencyRecord(user_id=org["sup_a"].id, key=key, fingerprint="x" * 64)
    db.session.add(claim)
    db.session.commit()
    # The fingerprint of the claim is another request's: reuse wins over in-flight.
    assert_problem(post(client, key), 422, "IDEMPOTENCY_KEY_REUSED")

    db.session.delete(claim)
    db.session.commit()
    first = post(client, key)
    record = db.session.scalar(sa.select(IdempotencyRecord))
    record.response_status = None
    db.session.commit()
    assert_problem(post(client, key), 409, "IDEMPOTENCY_IN_PROGRESS")
    # A claim older than the lease was left by a worker that died before committing.
    record.created_at = utcnow() - timedelta(minutes=6)
    db.session.commit()
    assert first.status_code == 201
    assert post(client, key).status_code == 201


@pytest.mark.parametrize("key", ["", " ", "has space", "x" * 101, "ключ"])
def test_malformed_keys_are_refused(client, org, key):
    client.login(org["sup_a"])
    response = client.post("sites", json=BODY, headers={"Idempotency-Key": key})
    assert_problem(response, 422, "VALIDATION_ERROR")
    assert sites() == 0


def test_records_older_than_the_ttl_are_dropped(client, org, monkeypatch):
    """In bulk, every PURGE_EVERY claims (here every claim)."""
    monkeypatch.setattr(idempotency, "PURGE_EVERY", 1)
    client.login(org["sup_a"])
    old_key = str(uuid.uuid4())
    assert post(client, old_key).status_code == 201
    record = db.session.scalar(sa.select(IdempotencyRecord))
    record.created_at = utcnow() - timedelta(hours=73)
    db.session.commit()
    assert post(client, str(uuid.uuid4())).status_code == 201
    keys = db.session.scalars(sa.select(IdempotencyRecord.key)).all()
    assert old_key not in keys and len(keys) == 1


def test_records_are_purged_in_bulk_only_every_so_many_claims(client, org, monkeypatch):
    monkeypatch.setattr(idempotency, "PURGE_EVERY", 3)
    client.login(org["sup_a"])
    assert post(client, str(uuid.uuid4())).status_code == 201  # claim 1
    db.session.execute(sa.update(IdempotencyRecord).values(created_at=utcnow() - timedelta(hours=73)))
    db.session.commit()
    assert post(client, str(uuid.uuid4())).status_code == 201  # claim 2: kept
    assert db.session.scalar(sa.select(sa.func.count(IdempotencyRecord.id))) == 2
    assert post(client, str(uuid.uuid4())).status_code == 201  # claim 3: the old one goes
    assert db.session.scalars(sa.select(IdempotencyRecord.id).order_by(IdempotencyRecord.id)).all() == [2, 3]


def test_an_expired_key_acts_again_instead_of_replaying(client, org):
    client.login(org["sup_a"])
    key = str(uuid.uuid4())
    first = post(client, key)
    assert first.status_code == 201
    db.session.execute(sa.update(IdempotencyRecord).values(created_at=utcnow() - timedelta(hours=73)))
    db.session.commit()
    again = post(client, key)
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again.headers
    assert again.get_json()["id"] != first.get_json()["id"]
    assert sites() == 2
    # The key's record is the new request's, kept for another 72 hours.
    record = db.session.scalar(sa.select(IdempotencyRecord))
    assert record.response_body == again.get_data(as_text=True)
    assert utcnow() - record.created_at < timedelta(minutes=1)
    assert post(client, key).headers.get("Idempotent-Replayed") == "true"


def test_records_are_kept_for_72_hours(client, org):
    client.login(org["sup_a"])
    key = str(uuid.uuid4())
    assert post(client, key).status_code == 201
    record = db.session.scalar(sa.select(IdempotencyRecord))
    record.created_at = utcnow() - timedelta(hours=71)
    db.session.commit()
    assert post(client, str(uuid.uuid4())).status_code == 201
    assert post(client, key).headers.get("Idempotent-Replayed") == "true"
    assert sites() == 2


def test_multipart_fingerprint_uses_the_file_digest(client, org):
    client.login(org["admin"])
    key = str(uuid.uuid4())
    csv_a = b"name,customer_name,address,lat,lon\nA,C,Addr,31.2,121.4\n"
    csv_b = b"name,customer_name,address,lat,lon\nB,C,Addr,31.2,121.4\n"

    def upload(data):
        return client.post("sites/import", data={"file": (io.BytesIO(data), "sites.csv")},
                           content_type="multipart/form-data", headers={"Idempotency-Key": key})

    assert upload(csv_a).status_code == 201
    assert upload(csv_a).headers.get("Idempotent-Replayed") == "true"
    assert_problem(upload(csv_b), 422, "IDEMPOTENCY_KEY_REUSED")
    assert sites() == 1


def test_csrf_is_checked_before_a_replay(client, org):
    client.login(org["sup_a"])
    key = str(uuid.uuid4())
    assert post(client, key).status_code == 201
    assert_problem(post(client, key, csrf=False), 403, "CSRF_FAILED")


def test_simultaneous_requests_with_one_key_create_one_record(app, org):
    """Many requests at once with one key: exactly one acts, the others wait or replay."""
    key = str(uuid.uuid4())
    clients = [ApiClient(app.test_client()).use_token(org["sup_a"]) for _ in range(50)]
    db.session.commit()
    barrier = threading.Barrier(len(clients))
    statuses: list[int | str] = []

    def fire(c):
        barrier.wait()
        try:
            statuses.append(post(c, key).status_code)
        except Exception as exc:  # surfaced by the assertion below
            statuses.append(repr(exc))

    threads = [threading.Thread(target=fire, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(statuses) <= {201, 409}, statuses
    assert 201 in statuses
    assert sites() == 1
    assert db.session.scalar(sa.select(sa.func.count(IdempotencyRecord.id))) == 1


@pytest.mark.parametrize("ttl, lease, wrong", [
    (300, 300, "IDEMPOTENCY_TTL_S"), (60, 300, "IDEMPOTENCY_TTL_S"),
    (259200, 0, "IDEMPOTENCY_LEASE_S"), (259200, -5, "IDEMPOTENCY_LEASE_S"),
])
def test_record_times_that_would_free_a_key_in_flight_are_refused_at_start_up(tmp_path, ttl, lease, wrong):
    from app import create_app
    from app.config import TestConfig

    with pytest.raises(ValueError, match=wrong):
        create_app(TestConfig(tmp_path, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'x.db'}",
                              IDEMPOTENCY_TTL_S=ttl, IDEMPOTENCY_LEASE_S=lease))


def test_the_default_record_times_are_accepted():
    from app.config import THRESHOLDS

    settings = {name: THRESHOLDS[name][1] for name in ("IDEMPOTENCY_TTL_S", "IDEMPOTENCY_LEASE_S")}
    assert settings == {"IDEMPOTENCY_TTL_S": 72 * 3600, "IDEMPOTENCY_LEASE_S": 300}
    idempotency.check_settings(settings)  # no error
    idempotency.check_settings({"IDEMPOTENCY_TTL_S": 301, "IDEMPOTENCY_LEASE_S": 300})
