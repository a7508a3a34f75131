"""Customer feedback: signed single-use links, the public rating routes, the scoped list."""
from __future__ import annotations

import hashlib
import threading
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from itsdangerous import URLSafeSerializer

from app.extensions import db
from app.models import Alert, Feedback, FeedbackLink, IdempotencyRecord, Job
from app.models.types import utcnow
from app.services import feedback as service
from tests.api.test_app import assert_problem
from tests.support import ApiClient

# --- tokens and display names, no app --------------------------------------------------

KEY = "k" * 64


def test_token_names_its_link_and_reads_back():
    token = service.sign_token(KEY, 42)
    assert service.read_token(KEY, token) == 42
    assert "/" not in token and len(token) < service.MAX_TOKEN_LENGTH
    # The nonce makes every token of the same link different.
    assert service.sign_token(KEY, 42) != token


@pytest.mark.parametrize("forge", [
    # Signature changed (not in its last character, whose low bits base64 ignores).
    lambda t: t[:-5] + ("A" if t[-5] != "A" else "B") + t[-4:],
    lambda t: "WzEsIngiXQ" + t[t.index("."):],                   # payload changed
    lambda t: service.sign_token("another app's secret", 42),     # another key
    lambda t: URLSafeSerializer(KEY, salt="other").dumps([42, "n"]),  # another purpose
    lambda t: "not-a-token",
    lambda t: "",
    lambda t: t + "x" * service.MAX_TOKEN_LENGTH,
])
def test_forged_tokens_read_as_nothing(forge):
    assert service.read_token(KEY, forge(service.sign_token(KEY, 42))) is None


@pytest.mark.parametrize("payload", [{"id": 1}, [1], [True, "n"], ["1", "n"], [1, 2], 7])
def test_genuinely_signed_payloads_of_another_shape_read_as_nothing(payload):
    token = URLSafeSerializer(KEY, salt=service.SALT,
                              signer_kwargs={"digest_method": hashlib.sha256}).dumps(payload)
    assert service.read_token(KEY, token) is None


@pytest.mark.parametrize("name, shown", [
    ("Alice Smith", "Alice"), ("  Bob  ", "Bob"), ("王伟", "王伟"), ("Li Na Wang", "Li"),
    ("", None), ("   ", None), (None, None),
])
def test_the_customer_sees_a_display_name_only(name, shown):
    assert service.display_name(name) == shown


# --- helpers ------------------------------------------------------------------------------

def visited_job(factory, engineer, **fields):
    """A job of `engineer` with a verified visit: a link may be made for it."""
    job = factory.job(engineer=engineer, status="in_progress", **fields)
    factory.visit(job)
    return job


def issue(engineer, job) -> str:
    _, token = service.issue_link(engineer, job.id)
    db.session.commit()
    return token


def link_of(token: str) -> FeedbackLink:
    db.session.expire_all()
    return db.session.scalar(sa.select(FeedbackLink).where(
        FeedbackLink.digest == hashlib.sha256(token.encode()).hexdigest()))


def feedback_count() -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count(Feedback.id)))


@contextmanager
def counting_statements():
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)


# --- making a link ---------------------------------------------------------------------

def test_an_admin_may_not_make_a_link(client, org, factory):
    job = visited_job(factory, org["eng_a1"])
    client.login(org["admin"])
    assert client.post(f"jobs/{job.id}/feedback-link").status_code == 403


def test_a_remote_job_takes_a_link_after_the_first_contact(client, org, factory):
    job = factory.job(engineer=org["eng_a1"], mode="remote")
    client.login(org["eng_a1"])
    assert client.post(f"jobs/{job.id}/feedback-link").status_code == 409
    job.first_contact_at = utcnow()
    assert client.post(f"jobs/{job.id}/feedback-link").status_code == 201


@pytest.mark.parametrize("actor", ["eng_a1", "sup_a"])
def test_the_engineer_and_their_supervisor_make_a_link(client, org, factory, actor):
    job = visited_job(factory, org["eng_a1"])
    client.login(org[actor])
    before = utcnow()
    response = client.post(f"jobs/{job.id}/feedback-link")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert set(body) == {"url", "expires_at"}
    assert body["url"].startswith("http://localhost/f/")
    token = body["url"].rsplit("/", 1)[1]
    assert response.headers["Location"].endswith(f"/api/v1/feedback/{token}")
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert body["expires_at"].endswith("Z")
    assert before + timedelta(days=14) - timedelta(seconds=5) <= expires <= utcnow() + timedelta(days=14)
    link = link_of(token)  # only the digest is stored: the lookup by digest finds it
    assert link is not None and link.job_id == job.id and link.created_by_id == org[actor].id
    assert link.used_at is None and link.replaced_at is None
    stored = db.session.execute(sa.select(FeedbackLink.digest)).scalars().all()
    assert token not in stored and all(len(d) == 64 for d in stored)
    assert client.get(f"feedback/{token}").status_code == 200


@pytest.mark.config(PUBLIC_BASE_URL="https://rate.example.com/app/", FEEDBACK_LINK_DAYS=3)
def test_link_uses_the_public_base_url_and_the_configured_days(client, org, factory):
    job = visited_job(factory, org["eng_a1"])
    client.use_token(org["eng_a1"])
    body = client.post(f"jobs/{job.id}/feedback-link").get_json()
    assert body["url"].startswith("https://rate.example.com/app/f/")
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert abs(expires - (utcnow() + timedelta(days=3))) < timedelta(minutes=1)


@pytest.mark.parametrize("actor", ["eng_a2", "eng_b1", "sup_b", "loner"])
def test_others_cannot_make_a_link_and_learn_nothing(client, org, factory, actor):
    job = visited_job(factory, org["eng_a1"])
    client.login(org[actor])
    assert_problem(client.post(f"jobs/{job.id}/feedback-link"), 404, "NOT_FOUND")
    assert db.session.scalar(sa.select(sa.func.count(FeedbackLink.id))) == 0


def test_anonymous_gets_401_and_an_unknown_job_404(client, org):
    assert_problem(client.post("jobs/1/feedback-link"), 401, "UNAUTHORIZED")
    client.login(org["sup_a"])
    assert_problem(client.post("jobs/999999/feedback-link"), 404, "NOT_FOUND")


def test_cookie_session_needs_csrf_to_make_a_link(client, org, factory):
    job = visited_job(factory, org["eng_a1"])
    client.login(org["eng_a1"])
    assert_problem(client.post(f"jobs/{job.id}/feedback-link", csrf=False), 403, "CSRF_FAILED")


def test_a_supervisor_who_sees_a_job_of_another_team_may_not_make_its_link(client, org, factory):
    # sup_b created the job (so sees it) but it went to sup_a's engineer.
    job = visited_job(factory, org["eng_a1"], created_by=org["sup_b"])
    client.login(org["sup_b"])
    assert client.get(f"feedback?job_id={job.id}").status_code == 200
    assert_problem(client.post(f"jobs/{job.id}/feedback-link"), 403, "FORBIDDEN")
    assert db.session.scalar(sa.select(sa.func.count(FeedbackLink.id))) == 0


@pytest.mark.parametrize("visit_status, minutes, status", [
    ("verified", None, 201),   # still on site: the customer rates before check-out
    ("flagged", 60, 201),
    ("approved", 60, 201),
    ("rejected", 60, 409),     # a false report earns no rating
    ("disputed", 60, 409),
])
def test_a_link_needs_a_visit_not_judged_false(client, org, factory, visit_status, minutes, status):
    job = factory.job(engineer=org["eng_a1"], status="in_progress")
    factory.visit(job, minutes=minutes, status=visit_status)
    client.login(org["eng_a1"])
    response = client.post(f"jobs/{job.id}/feedback-link")
    assert response.status_code == status
    if status == 409:
        assert "visit" in assert_problem(response, 409, "CONFLICT")["detail"]
        assert db.session.scalar(sa.select(sa.func.count(FeedbackLink.id))) == 0


def test_no_link_before_a_visit_or_a_close(client, org, factory):
    job = factory.job(engineer=org["eng_a1"])
    client.login(org["sup_a"])
    body = assert_problem(client.post(f"jobs/{job.id}/feedback-link"), 409, "CONFLICT")
    assert "closed" in body["detail"]
    assert db.session.scalar(sa.select(sa.func.count(FeedbackLink.id))) == 0


def test_a_closed_remote_job_without_visits_takes_a_link(client, org, factory):
    job = factory.job(engineer=org["eng_a1"], mode="remote", status="closed", closed_at=utcnow())
    client.login(org["eng_a1"])
    assert client.post(f"jobs/{job.id}/feedback-link").status_code == 201


def test_a_cancelled_job_takes_no_link(client, org, factory):
    job = visited_job(factory, org["eng_a1"])
    job.status, job.cancelled_at = "cancelled", utcnow()
    client.login(org["sup_a"])
    assert_problem(client.post(f"jobs/{job.id}/feedback-link"), 409, "JOB_CLOSED")
    assert db.session.scalar(sa.select(sa.func.count(FeedbackLink.id))) == 0


def test_a_new_link_replaces_the_unused_one(client, org, factory):
    job = visited_job(factory, org["eng_a1"])
    client.login(org["eng_a1"])
    old = client.post(f"jobs/{job.id}/feedback-link").get_json()["url"].rsplit("/", 1)[1]
    new = client.post(f"jobs/{job.id}/feedback-link").get_json()["url"].rsplit("/", 1)[1]
    assert old != new
    assert link_of(old).replaced_at is not None and link_of(new).replaced_at is None
    body = assert_problem(client.get(f"feedback/{old}"), 410, "LINK_USED")
    assert "replaced" in body["detail"]
    assert_problem(client.post(f"feedback/{old}", json={"score": 9}), 410, "LINK_USED")
    assert client.get(f"feedback/{new}").status_code == 200
    customer = ApiClient(client.client.application.test_client())
    assert customer.post(f"feedback/{new}", json={"score": 9}).status_code == 201


def test_an_expired_link_stays_expired_when_a_new_one_is_made(client, org, factory):
    job = visited_job(factory, org["eng_a1"])
    old = issue(org["eng_a1"], job)
    link_of(old).expires_at = utcnow() - timedelta(seconds=1)
    new = issue(org["eng_a1"], job)
    assert link_of(old).replaced_at is None
    assert_problem(client.get(f"feedback/{old}"), 410, "LINK_EXPIRED")
    assert client.get(f"feedback/{new}").status_code == 200


def test_no_link_once_the_job_is_rated(client, org, factory):
    job = visited_job(factory, org["eng_a1"])
    token = issue(org["eng_a1"], job)
    assert client.post(f"feedback/{token}", json={"score": 10}).status_code == 201
    client.login(org["sup_a"])
    body = assert_problem(client.post(f"jobs/{job.id}/feedback-link"), 409, "CONFLICT")
    assert "already" in body["detail"]
    assert db.session.scalar(sa.select(sa.func.count(FeedbackLink.id))) == 1


def test_a_retry_with_the_same_idempotency_key_replays_the_same_link(client, org, factory):
    job = visited_job(factory, org["eng_a1"])
    client.use_token(org["eng_a1"])
    first = client.post(f"jobs/{job.id}/feedback-link", headers={"Idempotency-Key": "link-1"})
    again = client.post(f"jobs/{job.id}/feedback-link", headers={"Idempotency-Key": "link-1"})
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json() == first.get_json()
    assert db.session.scalar(sa.select(sa.func.count(FeedbackLink.id))) == 1
    assert db.session.scalar(sa.select(sa.func.count(IdempotencyRecord.id))) == 1


# --- the public page ---------------------------------------------------------------------

def test_the_token_shows_the_job_the_site_and_the_engineers_first_name(client, org, factory):
    org["eng_a1"].name = "Alice Smith"
    site = factory.site(name="Pudong Office", address="88 Century Ave")
    job = visited_job(factory, org["eng_a1"], site=site, title="AC dripping")
    token = issue(org["eng_a1"], job)
    response = client.get(f"feedback/{token}")
    assert response.status_code == 200
    body = response.get_json()
    assert body == {
        "job": {"title": "AC dripping"},
        "site": {"name": "Pudong Office", "address": "88 Century Ave"},
        "engineer": {"name": "Alice"},
        "expires_at": body["expires_at"],
    }
    assert body["expires_at"].endswith("Z")
    text = response.get_data(as_text=True)
    assert org["eng_a1"].email not in text and "Smith" not in text
    # No ids either (api.md: nothing else is reachable with the token).
    assert '"id"' not in text and '_id"' not in text
    assert response.headers["Cache-Control"] == "no-store"
    # Looking does not use the link up.
    assert client.get(f"feedback/{token}").status_code == 200
    assert link_of(token).used_at is None


def test_a_name_without_spaces_is_shown_as_stored(client, org, factory):
    org["eng_a1"].name = "王伟"
    token = issue(org["eng_a1"], visited_job(factory, org["eng_a1"]))
    assert client.get(f"feedback/{token}").get_json()["engineer"] == {"name": "王伟"}


def _forgeries(app, token: str, link_id: int) -> dict[str, str]:
    head, _, signature = token.rpartition(".")
    return {
        "tampered signature": head + "." + signature[::-1],
        "tampered payload": service.sign_token(KEY, link_id).split(".")[0] + "." + signature,
        "random string": "x" * 40,
        "another app's secret": service.sign_token("another app's secret key", link_id),
        # Genuinely signed, but not the link's token (another nonce): unknown.
        "signed but unknown": service.sign_token(app.secret_key, link_id),
        "signed for no link": service.sign_token(app.secret_key, 10_000_000),
    }


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_forged_and_unknown_tokens_are_404_and_write_nothing(app, client, org, factory, method):
    token = issue(org["eng_a1"], visited_job(factory, org["eng_a1"]))
    link_id = link_of(token).id
    for name, forged in _forgeries(app, token, link_id).items():
        response = client.open(method, f"feedback/{forged}", json={"score": 9})
        assert response.status_code == 404, name
        assert_problem(response, 404, "NOT_FOUND")
    assert feedback_count() == 0 and link_of(token).used_at is None
    assert client.open(method, f"feedback/{token}", json={"score": 9}).status_code in (200, 201)


def test_a_bad_signature_is_refused_before_any_database_lookup(app, client, org, factory):
    token = issue(org["eng_a1"], visited_job(factory, org["eng_a1"]))
    forgeries = _forgeries(app, token, link_of(token).id)
    with counting_statements() as statements:
        for name in ("tampered signature", "tampered payload", "random string", "another app's secret"):
            assert client.get(f"feedback/{forgeries[name]}").status_code == 404
            assert client.post(f"feedback/{forgeries[name]}", json={"score": 1}).status_code == 404
    assert statements == []


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_used_link_is_410_link_used(client, org, factory, method):
    token = issue(org["eng_a1"], visited_job(factory, org["eng_a1"]))
    assert client.post(f"feedback/{token}", json={"score": 7}).status_code == 201
    assert_problem(client.open(method, f"feedback/{token}", json={"score": 1}), 410, "LINK_USED")
    assert feedback_count() == 1
    assert db.session.scalar(sa.select(Feedback.score)) == 7


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_expired_link_is_410_link_expired(client, org, factory, method):
    token = issue(org["eng_a1"], visited_job(factory, org["eng_a1"]))
    link_of(token).expires_at = utcnow() - timedelta(seconds=1)
    assert_problem(client.open(method, f"feedback/{token}", json={"score": 9}), 410, "LINK_EXPIRED")
    assert feedback_count() == 0 and link_of(token).used_at is None


def test_a_link_just_before_expiry_still_works(client, org, factory):
    token = issue(org["eng_a1"], visited_job(factory, org["eng_a1"]))
    link_of(token).expires_at = utcnow() + timedelta(seconds=30)
    assert client.post(f"feedback/{token}", json={"score": 9}).status_code == 201


def test_a_link_of_a_job_cancelled_later_stops_working(client, org, factory):
    job = visited_job(factory, org["eng_a1"])
    token = issue(org["eng_a1"], job)
    db.session.get(Job, job.id).status = "cancelled"
    assert_problem(client.get(f"feedback/{token}"), 410, "LINK_EXPIRED")
    assert_problem(client.post(f"feedback/{token}", json={"score": 9}), 410, "LINK_EXPIRED")
    assert feedback_count() == 0


# --- rating ------------------------------------------------------------------------------

@pytest.mark.parametrize("score", [0, 10])
def test_scores_at_the_bounds_are_accepted(client, org, factory, score):
    job = visited_job(factory, org["eng_a1"])
    token = issue(org["eng_a1"], job)
    before = utcnow()
    response = client.post(f"feedback/{token}", json={"score": score, "comment": "  Fixed fast  "})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert set(body) == {"id", "score", "comment", "submitted_at"}
    assert body["score"] == score and body["comment"] == "Fixed fast"
    assert response.headers["Location"].endswith(f"/api/v1/feedback/items/{body['id']}")
    db.session.expire_all()
    row = db.session.get(Feedback, body["id"])
    link = link_of(token)
    assert (row.job_id, row.link_id, row.score, row.comment) == (job.id, link.id, score, "Fixed fast")
    assert before - timedelta(seconds=1) <= row.submitted_at <= utcnow()
    assert link.used_at == row.submitted_at


@pytest.mark.parametrize("body", [
    {"score": -1}, {"score": 11}, {"score": 5.5}, {"score": 7.0}, {"score": "7"}, {"score": True},
    {"score": None}, {}, {"comment": "no score"}, {"score": 9, "comment": "x" * 2001},
    {"score": 9, "comment": 5}, {"score": 9, "job_id": 1}, {"score": 9, "used_at": None},
])
def test_bad_ratings_are_422_and_leave_the_link_usable(client, org, factory, body):
    token = issue(org["eng_a1"], visited_job(factory, org["eng_a1"]))
    problem = assert_problem(client.post(f"feedback/{token}", json=body), 422, "VALIDATION_ERROR")
    assert problem["errors"]
    assert feedback_count() == 0 and link_of(token).used_at is None
    assert client.post(f"feedback/{token}", json={"score": 9}).status_code == 201


def test_a_rating_without_a_body_or_with_another_type_is_refused(client, org, factory):
    token = issue(org["eng_a1"], visited_job(factory, org["eng_a1"]))
    assert_problem(client.post(f"feedback/{token}"), 422, "VALIDATION_ERROR")
    assert_problem(client.post(f"feedback/{token}", data="score=9",
                               content_type="application/x-www-form-urlencoded"),
                   415, "UNSUPPORTED_MEDIA_TYPE")
    assert_problem(client.post(f"feedback/{token}", data="{bad", content_type="application/json"),
                   400, "MALFORMED_REQUEST")
    assert feedback_count() == 0 and link_of(token).used_at is None


def test_comment_of_2000_characters_or_none(client, org, factory):
    first = issue(org["eng_a1"], visited_job(factory, org["eng_a1"]))
    second = issue(org["eng_a1"], visited_job(factory, org["eng_a1"]))
    assert client.post(f"feedback/{first}", json={"score": 6, "comment": "好" * 2000}).status_code == 201
    response = client.post(f"feedback/{second}", json={"score": 6, "comment": "   "})
    assert response.status_code == 201 and response.get_json()["comment"] is None


@pytest.mark.parametrize("score, comment, kinds", [
    (6, None, ["NEGATIVE_FEEDBACK"]),
    (7, "Rude and broken again", ["KEYWORD"]),
    (2, "态度差", ["KEYWORD", "NEGATIVE_FEEDBACK"]),
    (9, "Prudent work", []),
])
def test_a_rating_raises_its_early_warnings(client, org, factory, score, comment, kinds):
    job = visited_job(factory, org["eng_a1"])
    token = issue(org["eng_a1"], job)
    response = client.post(f"feedback/{token}", json={"score": score, "comment": comment})
    assert response.status_code == 201
    db.session.expire_all()
    alerts = db.session.scalars(sa.select(Alert).order_by(Alert.kind)).all()
    assert [a.kind for a in alerts] == kinds
    assert all((a.job_id, a.engineer_id) == (job.id, org["eng_a1"].id) for a in alerts)


def test_a_refused_rating_raises_no_warning(client, org, factory):
    token = issue(org["eng_a1"], visited_job(factory, org["eng_a1"]))
    assert client.post(f"feedback/{token}", json={"score": 11, "comment": "rude"}).status_code == 422
    assert client.post(f"feedback/{token}", json={"score": 10}).status_code == 201
    assert client.post(f"feedback/{token}", json={"score": 0, "comment": "rude"}).status_code == 410
    assert db.session.scalar(sa.select(sa.func.count(Alert.id))) == 0


def test_a_signed_in_caller_is_refused_as_staff_not_for_csrf(client, org, factory):
    """The public route asks no CSRF token; a signed-in caller is refused for being one."""
    token = issue(org["eng_a1"], visited_job(factory, org["eng_a1"]))
    client.login(org["eng_b1"])
    assert client.get(f"feedback/{token}").status_code == 200
    assert_problem(client.post(f"feedback/{token}", json={"score": 8}, csrf=False), 403, "RATING_BY_STAFF")


def test_two_ratings_at_once_make_one_feedback(app, org, factory):
    token = issue(org["eng_a1"], visited_job(factory, org["eng_a1"]))
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def rate(score: int) -> None:
        client = app.test_client()
        barrier.wait()
        statuses.append(client.post(f"/api/v1/feedback/{token}", json={"score": score}).status_code)

    threads = [threading.Thread(target=rate, args=(score,)) for score in (3, 9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [201, 410]
    assert feedback_count() == 1
    assert link_of(token).used_at is not None


@pytest.mark.kpi_store_unchecked("the feedback is deleted with SQL to stage the race")
def test_a_second_live_link_of_a_rated_job_answers_410_not_500(client, org, factory, monkeypatch):
    """Two links are live at once only through a race (a link made while the other was
    being used, on PostgreSQL); the unique job_id then decides and the loser gets 410."""
    job = visited_job(factory, org["eng_a1"])
    first = issue(org["eng_a1"], job)
    second = issue(org["eng_a1"], job)
    link_of(first).replaced_at = None  # as if both were live at once
    db.session.commit()
    assert client.post(f"feedback/{first}", json={"score": 9}).status_code == 201
    assert_problem(client.get(f"feedback/{second}"), 410, "LINK_USED")
    assert_problem(client.post(f"feedback/{second}", json={"score": 1}), 410, "LINK_USED")

    # The race itself: the other feedback lands after this request's checks passed.
    db.session.execute(sa.delete(Feedback))
    link_of(first).used_at = None
    db.session.commit()
    checks, job_id = service._usable_link, job.id

    def checks_then_the_other_feedback_lands(token, now):
        row = checks(token, now)
        db.session.add(Feedback(job_id=job_id, score=5, submitted_at=utcnow()))
        db.session.flush()
        return row

    monkeypatch.setattr(service, "_usable_link", checks_then_the_other_feedback_lands)
    assert_problem(client.post(f"feedback/{second}", json={"score": 1}), 410, "LINK_USED")
    assert feedback_count() == 0 and link_of(second).used_at is None


# --- rate limit ----------------------------------------------------------------------------

@pytest.mark.config(FEEDBACK_RATE_LIMIT="3 per minute")
def test_the_public_routes_are_rate_limited_per_address(client, org, factory):
    token = issue(org["eng_a1"], visited_job(factory, org["eng_a1"]))

    def call(method, addr, **kw):
        return client.client.open(f"/api/v1/feedback/{token}", method=method,
                                  environ_base={"REMOTE_ADDR": addr}, **kw)

    assert call("GET", "10.0.0.1").status_code == 200
    assert call("POST", "10.0.0.1", json={"score": 42}).status_code == 422
    assert call("GET", "10.0.0.1").status_code == 200
    response = call("POST", "10.0.0.1", json={"score": 9})
    problem = assert_problem(response, 429, "RATE_LIMITED")
    assert problem["detail"]
    assert 0 < int(response.headers["Retry-After"]) <= 60
    assert feedback_count() == 0
    assert_problem(call("GET", "10.0.0.1"), 429, "RATE_LIMITED")
    # Forged tokens count too (guessing is what the limit slows down).
    assert_problem(client.client.get("/api/v1/feedback/guess", environ_base={"REMOTE_ADDR": "10.0.0.1"}),
                   429, "RATE_LIMITED")
    # Another address is not held back.
    assert call("POST", "10.0.0.2", json={"score": 9}).status_code == 201


def test_the_default_limit_is_modest_but_lets_a_customer_through(client, org, factory):
    token = issue(org["eng_a1"], visited_job(factory, org["eng_a1"]))
    statuses = [client.get(f"feedback/{token}").status_code for _ in range(29)]
    assert statuses == [200] * 29
    assert client.post(f"feedback/{token}", json={"score": 9}).status_code == 201
    assert_problem(client.get(f"feedback/{token}"), 429, "RATE_LIMITED")


# --- the back-office list ----------------------------------------------------------------

def rate_job(factory, engineer, score: int, at: datetime, comment: str | None = None, **fields) -> Feedback:
    job = factory.job(engineer=engineer, status="closed", closed_at=at, **fields)
    feedback = Feedback(job_id=job.id, score=score, comment=comment, submitted_at=at)
    db.session.add(feedback)
    db.session.flush()
    return feedback


@pytest.fixture
def rated(org, factory):
    t0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    made = {
        "a1_old": rate_job(factory, org["eng_a1"], 9, t0),
        "a1_new": rate_job(factory, org["eng_a1"], 4, t0 + timedelta(days=2), "rude"),
        "a2": rate_job(factory, org["eng_a2"], 10, t0 + timedelta(days=1)),
        "b1": rate_job(factory, org["eng_b1"], 7, t0 + timedelta(days=3)),
        "loner": rate_job(factory, org["loner"], 8, t0 + timedelta(days=4)),
    }
    db.session.commit()
    return {name: feedback.id for name, feedback in made.items()}


def listed(client, query: str = "") -> list[int]:
    response = client.get("feedback" + query)
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


@pytest.mark.parametrize("actor, expected", [
    ("eng_a1", ["a1_new", "a1_old"]),
    ("eng_a2", ["a2"]),
    ("eng_b1", ["b1"]),
    ("sup_a", ["a1_new", "a2", "a1_old"]),
    ("sup_b", ["b1"]),
    ("admin", ["loner", "b1", "a1_new", "a2", "a1_old"]),
])
def test_the_list_is_scoped_and_newest_first(client, org, rated, actor, expected):
    client.use_token(org[actor])
    assert listed(client) == [rated[name] for name in expected]


def test_a_supervisor_without_a_team_sees_none(client, org, factory, rated):
    client.use_token(factory.user("supervisor"))
    assert listed(client) == []


def test_list_items_carry_their_job(client, org, rated):
    client.use_token(org["eng_a1"])
    body = client.get("feedback").get_json()
    assert (body["page"], body["per_page"], body["total"]) == (1, 50, 2)
    item = body["items"][0]
    job = db.session.get(Job, db.session.get(Feedback, rated["a1_new"]).job_id)
    assert item == {
        "id": rated["a1_new"], "job_id": job.id, "score": 4, "comment": "rude",
        "submitted_at": "2026-03-03T09:00:00Z",
        "job": {"id": job.id, "title": job.title, "engineer_id": org["eng_a1"].id, "site_id": job.site_id},
    }


def test_list_filters(client, org, rated):
    client.use_token(org["admin"])
    assert listed(client, f"?engineer_id={org['eng_a1'].id}") == [rated["a1_new"], rated["a1_old"]]
    # from is inclusive, to exclusive, on submitted_at.
    assert listed(client, "?from=2026-03-02T09:00:00Z&to=2026-03-04T09:00:00Z") == [rated["a1_new"], rated["a2"]]
    assert listed(client, "?from=2026-03-02T17:00:00%2B08:00") == [
        rated["loner"], rated["b1"], rated["a1_new"], rated["a2"]]
    assert listed(client, "?to=2026-03-02T09:00:00Z") == [rated["a1_old"]]
    job_id = db.session.get(Feedback, rated["a2"]).job_id
    assert listed(client, f"?job_id={job_id}") == [rated["a2"]]
    body = client.get("feedback?per_page=2&page=2").get_json()
    assert body["total"] == 5 and [i["id"] for i in body["items"]] == [rated["a1_new"], rated["a2"]]


def test_filters_never_widen_the_scope(client, org, rated):
    client.use_token(org["sup_b"])
    assert listed(client, f"?engineer_id={org['eng_a1'].id}") == []
    job_id = db.session.get(Feedback, rated["a2"]).job_id
    assert listed(client, f"?job_id={job_id}") == []


@pytest.mark.parametrize("query", [
    "?from=2026-03-01T09:00:00", "?to=yesterday", "?from=2026-03-05T00:00:00Z&to=2026-03-01T00:00:00Z",
    "?from=2026-03-01T00:00:00Z&to=2026-03-01T00:00:00Z",
    "?engineer_id=abc", "?engineer_id=0", "?per_page=201", "?page=0",
])
def test_bad_list_filters_are_422(client, org, query):
    client.use_token(org["admin"])
    assert_problem(client.get("feedback" + query), 422, "VALIDATION_ERROR")


def test_the_list_takes_the_same_statements_whatever_the_page_size(client, org, factory):
    client.use_token(org["admin"])
    assert client.get("feedback").status_code == 200  # the token's first use is recorded once
    at = utcnow()
    rate_job(factory, org["eng_a1"], 9, at)
    db.session.commit()
    with counting_statements() as one:
        assert len(client.get("feedback").get_json()["items"]) == 1
    for n in range(8):
        rate_job(factory, org["eng_a2" if n % 2 else "eng_b1"], n, at - timedelta(hours=n + 1),
                 site=factory.site())
    db.session.commit()
    with counting_statements() as nine:
        assert len(client.get("feedback").get_json()["items"]) == 9
    assert len(one) == len(nine)


@pytest.mark.parametrize("actor, status", [
    ("eng_a1", 200), ("sup_a", 200), ("admin", 200), ("eng_a2", 404), ("eng_b1", 404), ("sup_b", 404),
])
def test_one_feedback_is_scoped(client, org, rated, actor, status):
    client.use_token(org[actor])
    response = client.get(f"feedback/items/{rated['a1_old']}")
    assert response.status_code == status
    if status == 200:
        assert response.get_json()["score"] == 9
    else:
        assert_problem(response, 404, "NOT_FOUND")


# --- who may rate, and what a database reader learns ----------------------------------------

@pytest.mark.parametrize("who", ["eng_a1", "eng_a2", "sup_a", "admin"])
@pytest.mark.parametrize("how", ["cookie", "token"])
def test_a_signed_in_account_cannot_rate_through_the_customer_link(client, org, factory, who, how):
    """The rating is the customer's, from their own phone: the engineer's own phone (or
    anyone signed in) is refused, and the link stays usable for the customer."""
    job = visited_job(factory, org["eng_a1"])
    token = issue(org["eng_a1"], job)
    if how == "cookie":
        client.login(org[who])
    else:
        client.use_token(org[who])
    assert client.get(f"feedback/{token}").status_code == 200
    assert_problem(client.post(f"feedback/{token}", json={"score": 10}), 403, "RATING_BY_STAFF")
    assert feedback_count() == 0 and link_of(token).used_at is None
    customer = ApiClient(client.client.application.test_client())
    assert customer.post(f"feedback/{token}", json={"score": 10}).status_code == 201


def test_a_replayed_link_is_sealed_in_its_idempotency_record(client, org, factory, app):
    """The record answers a retry with the same URL, but keeps it encrypted with a key
    derived from SECRET_KEY: a reader of the database cannot use the link."""
    job = visited_job(factory, org["eng_a1"])
    client.use_token(org["eng_a1"])
    headers = {"Idempotency-Key": "link-sealed"}
    first = client.post(f"jobs/{job.id}/feedback-link", headers=headers)
    assert first.status_code == 201
    url, location = first.get_json()["url"], first.headers["Location"]
    token = url.rsplit("/", 1)[1]
    (record,) = db.session.scalars(sa.select(IdempotencyRecord)).all()
    stored = record.response_body + str(record.response_headers)
    assert token not in stored and token[:24] not in stored and "/f/" not in stored
    again = client.post(f"jobs/{job.id}/feedback-link", headers=headers)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json() and again.headers["Location"] == location
    assert "X-Sealed-Fields" not in again.headers

    # Under another SECRET_KEY the sealed link is lost, never garbled: null, no Location.
    app.secret_key = "another key"
    lost = client.post(f"jobs/{job.id}/feedback-link", headers=headers)
    assert lost.status_code == 201 and lost.get_json()["url"] is None
    assert "Location" not in lost.headers
