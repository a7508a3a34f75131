"""Test helpers: a JSON API client that signs in, and factories for rows."""
from __future__ import annotations

import contextvars
import itertools
import threading
from collections.abc import Callable
from typing import Any

from flask import has_app_context
from flask.testing import FlaskClient

from app.extensions import db
from datetime import datetime, timedelta

from app.models import Job, Site, User, Visit
from app.models.types import utcnow
from app.services.auth import create_token, hash_password

PASSWORD = "correct horse battery"
_seq = itertools.count(1)


class IsolatedClient(FlaskClient):
    """Each request runs as it would in a server: in its own app context and database
    session, not in the test's (whose `g`, identity map and open transaction would
    otherwise leak into the request). The test's pending rows are committed first."""

    def open(self, *args: Any, **kwargs: Any):
        if has_app_context():
            db.session.commit()
        return contextvars.Context().run(super().open, *args, **kwargs)


class ApiClient:
    """The test client with sign-in helpers; sends the CSRF header after a cookie login."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.csrf: str | None = None
        self.token: str | None = None

    def login(self, user_or_email: User | str, password: str = PASSWORD):
        email = user_or_email if isinstance(user_or_email, str) else user_or_email.email
        response = self.client.post("/api/v1/auth/login", json={"email": email, "password": password})
        if response.status_code == 200:
            self.csrf = response.json["csrf_token"]
        return response

    def use_token(self, user: User) -> "ApiClient":
        _, self.token = create_token(user, "test")
        db.session.commit()
        return self

    def open(self, method: str, path: str, csrf: bool = True, **kwargs: Any):
        headers = dict(kwargs.pop("headers", {}) or {})
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        if csrf and self.csrf and method in {"POST", "PUT", "PATCH", "DELETE"}:
            headers.setdefault("X-CSRF-Token", self.csrf)
        if not path.startswith("/"):
            path = "/api/v1/" + path
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def get(self, path: str, **kw):
        return self.open("GET", path, **kw)

    def post(self, path: str, **kw):
        return self.open("POST", path, **kw)

    def patch(self, path: str, **kw):
        return self.open("PATCH", path, **kw)

    def put(self, path: str, **kw):
        return self.open("PUT", path, **kw)

    def delete(self, path: str, **kw):
        return self.open("DELETE", path, **kw)


class Factory:
    """Rows with sensible defaults; flushes, the test commits when it needs to."""

    def user(self, role: str = "engineer", supervisor: User | None = None, **fields: Any) -> User:
        n = next(_seq)
        values: dict[str, Any] = {
            "email": f"user{n}@example.com",
            "name": f"User {n}",
            "password_hash": hash_password(PASSWORD),
            "role": role,
        }
        if role == "engineer":
            values.update(level="mid", work_type="field",
                          supervisor_id=supervisor.id if supervisor else None)
        values.update(fields)
        user = User(**values)
        db.session.add(user)
        db.session.flush()
        return user

    def site(self, **fields: Any) -> Site:
        n = next(_seq)
        values: dict[str, Any] = {
            "name": f"Site {n}", "customer_name": f"Customer {n}", "address": f"{n} Road",
            "lat": 31.2304, "lon": 121.4737, "radius_m": 150,
        }
        values.update(fields)
        site = Site(**values)
        db.session.add(site)
        db.session.flush()
        return site

    def job(self, site: Site | None = None, engineer: User | None = None,
            created_by: User | None = None, **fields: Any) -> Job:
        """A job reported an hour ago; assigned (status `assigned`) when `engineer` is given."""
        now = utcnow()
        site = site or self.site()
        values: dict[str, Any] = {
            "site_id": site.id, "title": "Air conditioner leaking", "category": "hvac",
            "priority": "normal", "mode": "field", "reported_at": now - timedelta(hours=1),
            "status": "new", "created_by_id": created_by.id if created_by else None,
        }
        if engineer is not None:
            values.update(engineer_id=engineer.id, assigned_at=now - timedelta(minutes=50),
                          status="assigned")
        values.update(fields)
        job = Job(**values)
        db.session.add(job)
        db.session.flush()
        return job

    def visit(self, job: Job, engineer: User | None = None, at: datetime | None = None,
              minutes: float | None = 60, status: str = "verified", **fields: Any) -> Visit:
        """A visit at the job's site, checked out after `minutes` (None: still open)."""
        site = db.session.get(Site, job.site_id)
        engineer_id = engineer.id if engineer else job.engineer_id
        start = at or utcnow() - timedelta(hours=2)
        values: dict[str, Any] = {
            "job_id": job.id, "site_id": site.id, "engineer_id": engineer_id, "status": status,
            "flags": [], "in_lat": site.lat, "in_lon": site.lon, "in_accuracy_m": 10.0,
            "in_client_time": start, "in_server_time": start, "in_distance_m": 0.0,
            "in_flags": [],
        }
        if minutes is not None:
            end = start + timedelta(minutes=minutes)
            values.update(out_lat=site.lat, out_lon=site.lon, out_accuracy_m=10.0,
                          out_client_time=end, out_server_time=end, out_distance_m=0.0,
                          out_flags=[])
        values.update(fields)
        visit = Visit(**values)
        db.session.add(visit)
        db.session.flush()
        return visit


def statements_of(client: ApiClient, path: str) -> tuple[int, Any]:
    """GET `path`: how many SQL statements it ran, and its JSON (asserting a 200), so that
    a list can be shown to cost the same statements however many rows it shows."""
    import sqlalchemy as sa

    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        response = client.get(path)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert response.status_code == 200, response.get_data(as_text=True)
    return len(seen), response.get_json()


def all_at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls in threads released together; their results (or the exceptions they
    raised) in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except BaseException as exc:  # reported by the caller's assertions
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results
