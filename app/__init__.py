"""FieldProof: the application factory."""
from __future__ import annotations

import io
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask, Request, Response, current_app, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge, UnsupportedMediaType
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from app import idempotency, kpi_tracking, settings
from app.api.common import BODY_TYPES
from app.config import Config
from app.errors import DomainError, http_exception_problem, problem
from app.extensions import (
    UNSAFE_METHODS,
    db,
    leave_unlimited_alone,
    limiter,
    login_manager,
    migrate,
)
from app.extensions import api as rest_api  # `app.api` is the package of resources
from app.sqlite_writers import QueuedWriterConnection

log = logging.getLogger(__name__)

# A strict policy: no inline script or style, nothing from another host.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'; manifest-src 'self'; worker-src 'self'"
)


class IdConverter(IntegerConverter):
    """`<int:id>` up to the largest 32-bit id: a larger number is no route (404), not an
    overflow in the database driver."""

    def __init__(self, map, *args, **kwargs) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


class FieldProofRequest(Request):
    """Uploaded files are kept in memory (a body is at most MAX_CONTENT_LENGTH, 25 MB)
    rather than spooled to a temporary file: the photo pipeline reads them whole, so a
    file on disk would only be written and read back once more."""

    def _get_file_stream(self, total_content_length, content_type, filename=None,
                         content_length=None):
        return io.BytesIO()

    def get_data(self, cache=True, as_text=False, parse_form_data=False):
        """A body without Content-Length (chunked) is read up to MAX_CONTENT_LENGTH and
        stops there without a word; a body that filled the whole allowance is one that
        did not fit, and is 413, not JSON cut short."""
        data = super().get_data(cache=cache, as_text=False, parse_form_data=parse_form_data)
        limit = self.max_content_length
        if limit is not None and self.content_length is None and len(data) >= limit:
            raise RequestEntityTooLarge()
        return data.decode(errors="replace") if as_text else data


class SessionInterface(SecureCookieSessionInterface):
    """The session cookie is Secure whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure

    def open_session(self, app: Flask, request: Any) -> Any:
        # Without a session cookie (a phone's bearer token), the new empty session Flask
        # would answer, without building the cookie's signer first.
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


class FieldProofFlask(Flask):
    SYNC_CHECKED_MAX = 4096  # bounds the memory, should functions be made per request

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Flask's, with each function's answer kept: Flask asks, for every view, hook
        and handler of every request, whether it is an async function. A method is
        asked by its function (a MethodView's instance is made per request)."""
        checked = self.__dict__.setdefault("_sync_checked", set())
        key = getattr(func, "__func__", func)
        try:
            if key in checked:
                return func
        except TypeError:  # a callable that cannot be hashed: asked every time
            return super().ensure_sync(func)
        synced = super().ensure_sync(func)
        if synced is func and len(checked) < self.SYNC_CHECKED_MAX:
            checked.add(key)
        return synced


def _configuration() -> Any:
    return current_app.config


def create_app(config: Any = None) -> Flask:
    config = config or Config()
    app = FieldProofFlask(__name__, instance_path=str(Path(config.INSTANCE_PATH).resolve()),
                          static_folder=None)
    app.config.from_object(config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.request_class = FieldProofRequest
    app.session_interface = SessionInterface()
    app.url_map.converters["int"] = IdConverter
    if app.config.get("TRUSTED_PROXIES"):
        # Behind a reverse proxy: trust its X-Forwarded-For/-Proto (client address, HTTPS).
        hops = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        timeout = app.config.get("SQLITE_BUSY_TIMEOUT_MS", 15000) / 1000
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {
            "connect_args": {"timeout": timeout, "factory": QueuedWriterConnection},
        })
    else:
        # JIT compilation costs more than it saves on these short aggregates (about 3x
        # on a month's KPI figures over a million jobs), so it is off for our sessions.
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {
            "pool_pre_ping": True, "connect_args": {"options": "-c jit=off"},
        })

    from app import models  # noqa: F401  (every model registered before migrations look)

    settings.provide(_configuration)  # what app/services read as app.settings.current()
    db.init_app(app)
    kpi_tracking.install()
    migrate.init_app(app, db, directory=str(Path(__file__).parent.parent / "migrations"),
                     render_as_batch=True, compare_type=True)
    login_manager.init_app(app)
    login_manager.session_protection = None  # sessions are checked against the database
    app.config["RATELIMIT_ENABLED"] = True
    limiter.init_app(app)
    leave_unlimited_alone(app)
    rest_api.init_app(app)

    from app.api import resource_blueprints
    from app.docs import bp as docs_bp
    from app.pwa import bp as pwa_bp

    for blp in resource_blueprints():
        rest_api.register_blueprint(blp)
    app.register_blueprint(docs_bp)
    app.register_blueprint(pwa_bp)

    from app.storage import storage_from_config

    storage_from_config(app.config)  # an unknown PHOTO_STORAGE fails here, not at the first upload
    idempotency.check_settings(app.config)

    from app.cli import register_cli

    register_cli(app)
    _register_hooks(app)

    return app


def _secure(response):
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _register_hooks(app: Flask) -> None:
    @app.before_request
    def require_known_body_type():
        if request.method not in UNSAFE_METHODS:
            return None
        has_body = (request.content_length or 0) > 0 or "chunked" in request.headers.get(
            "Transfer-Encoding", ""
        ).lower()
        if not has_body:
            return None
        allowed = BODY_TYPES.get(request.endpoint or "", ("application/json",))
        mimetype = request.mimetype or ""
        if mimetype in allowed or (mimetype.endswith("+json") and "application/json" in allowed):
            signed = ("Authorization" in request.headers
                      or app.config["SESSION_COOKIE_NAME"] in request.cookies)
            if mimetype == "multipart/form-data" and signed:
                # Read the upload before sign-in opens a database transaction: a phone
                # sending megabytes slowly must not hold a pooled connection, or SQLite's
                # write lock, meanwhile. (Anonymous callers get their 401 without it.)
                request.form  # noqa: B018
            return None
        raise UnsupportedMediaType(f"Send {' or '.join(allowed)}.")

    app.before_request(idempotency.before_request)

    @app.after_request
    def finish_request(response):
        """One commit per request, after the response is known: a 2xx is committed
        (with its idempotency record) or turned into an error; anything else is undone."""
        if response.status_code < 300:
            answered = idempotency.store_response(response)
            if answered is not None:  # the key recorded by another request meanwhile
                return _secure(answered)
            try:
                db.session.commit()
            except sa.exc.IntegrityError:
                db.session.rollback()
                log.warning("commit refused on %s %s", request.method, request.path, exc_info=True)
                response = problem(409, "CONFLICT", "The change conflicts with one made meanwhile; nothing was saved.")
                idempotency.release_failed_claim()
            except Exception as error:
                db.session.rollback()
                response = _failure(error, "commit failed")
                idempotency.release_failed_claim()
        else:
            db.session.rollback()
            idempotency.release_failed_claim()
        return _secure(response)

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        db.session.rollback()
        return problem(error.status, error.code, error.detail, error.errors, error.headers,
                       error.extra)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        db.session.rollback()
        return http_exception_problem(error)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        db.session.rollback()
        return _failure(error, "unhandled error")


# PostgreSQL's ends of a transaction that lost a race with another, which the other's
# client would not see: a deadlock (40P01), a serialization failure (40001), a lock not
# available (55P03). Nothing of it was saved, and the same request can succeed again.
_RACE_LOST = frozenset({"40P01", "40001", "55P03"})


def _database_busy(error: Exception) -> bool:
    """SQLite's write lock not had within the busy timeout (another writer held it
    throughout), or a PostgreSQL transaction ended for another's sake (_RACE_LOST); raised
    by the driver or by SQLAlchemy around it."""
    found = error.orig if isinstance(error, sa.exc.DBAPIError) else error
    if isinstance(found, sqlite3.OperationalError):
        return "database is locked" in str(found)
    return getattr(found, "sqlstate", None) in _RACE_LOST


def _failure(error: Exception, what: str) -> Response:
    """The answer to an error no handler knows, its transaction rolled back: a busy
    database (503, to be sent again), or 500, logged with its trace."""
    if _database_busy(error):
        log.warning("no turn to write on %s %s (%s): %s", request.method, request.path,
                    what, error)
        return problem(503, "DATABASE_BUSY", "The database is busy; nothing was saved. "
                       "Try again in a moment.", headers={"Retry-After": "1"})
    log.exception("%s on %s %s", what, request.method, request.path)
    return problem(500)
