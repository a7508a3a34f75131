"""Sign-in: passwords, login limits, the rows of browser sessions, personal API tokens.

The web half (the session cookie, the login manager's loaders, CSRF, `require_roles`)
is app/api/security.py; this module is handed what it needs of the request (the client's
address, the session's id)."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

import sqlalchemy as sa
from limits import RateLimitItem, parse
from werkzeug.security import check_password_hash, generate_password_hash

from app import settings
from app.errors import DomainError, Forbidden, Unauthorized
from app.extensions import db, in_write_request, limiter, read_before_writing
from app.models import ApiToken, SignInFailure, User, UserSession
from app.models.prepared import prepared
from app.models.sql import with_key_record
from app.models.types import utcnow

SESSION_TOUCH_INTERVAL = timedelta(minutes=5)
TOKEN_PREFIX = "fp_"


def digest(secret: str) -> str:
    """Tokens and session ids are 256-bit random values, so one SHA-256 suffices."""
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=settings.current()["PASSWORD_HASH_METHOD"])


# Checked against when the email is unknown, so that both failures take as long.
_DUMMY_HASH: dict[str, str] = {}


def _dummy_hash() -> str:
    method = settings.current()["PASSWORD_HASH_METHOD"]
    if method not in _DUMMY_HASH:
        _DUMMY_HASH[method] = generate_password_hash(secrets.token_hex(8), method=method)
    return _DUMMY_HASH[method]


def normalize_email(email: str) -> str:
    return email.strip().lower()


# --- login rate limits -------------------------------------------------------------
# Wrong passwords are counted per account and per client address (api.md: 5 per account
# or 20 per address in 15 minutes), for the whole deployment: in the shared store named
# by RATELIMIT_STORAGE_URI (Redis) when there is one, otherwise in the database, the one
# store that every worker process and every server of the deployment sees. In-process
# memory is never used for them: it would give each gunicorn worker counters of its own.

def _limit_keys(email: str, address: str | None) -> list[tuple[RateLimitItem, str, str]]:
    cfg = settings.current()
    return [
        (parse(cfg["LOGIN_LIMIT_PER_ACCOUNT"]), "account", email),
        (parse(cfg["LOGIN_LIMIT_PER_ADDRESS"]), "address", address or "-"),
    ]


def _shared_store() -> bool:
    return not settings.current()["RATELIMIT_STORAGE_URI"].startswith("memory://")


def _too_many(retry_after_s: float) -> DomainError:
    return DomainError("Too many failed sign-ins; try again later.", code="RATE_LIMITED",
                       status=429, headers={"Retry-After": str(max(1, int(retry_after_s) + 1))})


def check_login_limits(email: str, address: str | None) -> None:
    """429 when the account or the client's address has used up its failures in the window."""
    now = utcnow()
    prefix = settings.current()["RATELIMIT_KEY_PREFIX"]
    for item, scope, key in _limit_keys(email, address):
        if _shared_store():
            strategy = limiter.limiter
            if not strategy.test(item, prefix, f"login-{scope}", key):
                reset = strategy.get_window_stats(item, prefix, f"login-{scope}", key).reset_time
                raise _too_many(reset - now.timestamp())
            continue
        window = timedelta(seconds=item.get_expiry())
        failures = db.session.execute(
            sa.select(SignInFailure.at).where(
                SignInFailure.scope == scope, SignInFailure.key == digest(key),
                SignInFailure.at > now - window,
            ).order_by(SignInFailure.at.desc()).limit(item.amount)
        ).scalars().all()
        if len(failures) >= item.amount:
            # A place frees when the oldest of the last `amount` failures leaves the window.
            raise _too_many((failures[-1] + window - now).total_seconds())


def count_login_failure(email: str, address: str | None) -> None:
    """Count a wrong password. In the database this is committed on its own, before the
    request answers its 4xx (which undoes everything else the request did)."""
    limits = _limit_keys(email, address)
    if _shared_store():
        prefix = settings.current()["RATELIMIT_KEY_PREFIX"]
        for item, scope, key in limits:
            limiter.limiter.hit(item, prefix, f"login-{scope}", key)
        return
    now = utcnow()
    db.session.rollback()
    longest = max(item.get_expiry() for item, _, _ in limits)
    db.session.execute(sa.delete(SignInFailure).where(
        SignInFailure.at <= now - timedelta(seconds=longest)))
    db.session.add_all(SignInFailure(scope=scope, key=digest(key), at=now) for _, scope, key in limits)
    db.session.commit()


# --- sign-in and sessions ----------------------------------------------------------

def authenticate(email: str, password: str, address: str | None) -> User:
    """The user with these credentials; the same 401 for a wrong email or password.
    `address`: the client's, which the login limits count."""
    email = normalize_email(email)
    check_login_limits(email, address)
    user = db.session.scalar(sa.select(User).where(User.email == email))
    valid = check_password_hash(user.password_hash if user else _dummy_hash(), password)
    if not (user and valid):
        count_login_failure(email, address)
        raise Unauthorized("Wrong email or password.", code="INVALID_CREDENTIALS")
    if not user.active:
        raise Forbidden("This account is disabled.", code="ACCOUNT_DISABLED")
    return user


def add_session(user: User, sid: str, user_agent: str | None) -> None:
    """The row of a new browser session (its id stored only as a digest)."""
    db.session.add(UserSession(user_id=user.id, digest=digest(sid), user_agent=user_agent))


def end_session(sid: str | None) -> None:
    """End the browser session with this id, if there is one."""
    if sid:
        _end_session_rows(sa.select(UserSession.id).where(UserSession.digest == digest(sid)))


def _end_session_rows(ids: sa.Select) -> None:
    db.session.execute(
        sa.update(UserSession)
        .where(UserSession.id.in_(ids), UserSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )


def end_other_sessions_and_tokens(user: User, keep: str | None = None) -> None:
    """After a password change or a deactivation: every session but `keep` (the id of the
    caller's own, when they change themselves) ends and every token is revoked, at once
    (sign-in reads the database on each request)."""
    query = sa.select(UserSession.id).where(UserSession.user_id == user.id)
    if keep:
        query = query.where(UserSession.digest != digest(keep))
    _end_session_rows(query)
    db.session.execute(
        sa.update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def session_user(sid: str, user_id: str, lifetime: timedelta) -> User | None:
    """The active user of the live browser session `sid` (whose cookie names `user_id`),
    or None; its last-seen time is brought up to date now and then."""
    with read_before_writing():
        row = db.session.scalar(sa.select(UserSession).where(UserSession.digest == digest(sid)))
        user = None if row is None else db.session.get(User, row.user_id)
    now = utcnow()
    if row is None or user is None or not _session_signs_in(
            row.ended_at, row.user_id, row.last_seen_at, user.active, user_id, lifetime, now):
        return None
    _record_use_when_due(_due(_SESSION_SEEN, {"session_id": row.id}, row.last_seen_at, now))
    return user


def _session_signs_in(ended_at: datetime | None, session_user_id: int, last_seen_at: datetime,
                      active: bool, user_id: str, lifetime: timedelta, now: datetime) -> bool:
    """A browser session signs its user in while it has not ended, names the user its
    cookie names, was seen within `lifetime` and its user is active."""
    return (ended_at is None and str(session_user_id) == user_id
            and now - last_seen_at <= lifetime and active)


# One statement per request for the token and its user, built once.
_TOKEN_USER = (
    sa.select(User, ApiToken.id.label("token_id"), ApiToken.last_used_at)
    .join(ApiToken, ApiToken.user_id == User.id)
    .where(ApiToken.digest == sa.bindparam("digest"), ApiToken.revoked_at.is_(None))
)
_TOKEN_USED = (
    sa.update(ApiToken.__table__).where(ApiToken.__table__.c.id == sa.bindparam("token_id"))
    .values(last_used_at=sa.bindparam("now"))
)


_SESSION_SEEN = (
    sa.update(UserSession.__table__).where(UserSession.__table__.c.id == sa.bindparam("session_id"))
    .values(last_seen_at=sa.bindparam("now"))
)


def _record_use(statement: sa.Update, params: dict) -> None:
    """Write a sign-in's last-used time, in a savepoint of the request's transaction.

    A read (GET) on SQLite holds a snapshot, and once another request has written since,
    no write can join it (SQLITE_BUSY_SNAPSHOT at once, whatever the busy timeout). The
    time is bookkeeping: it is then left to a later request instead of failing this one.
    In a write request the update comes after sign-in's reads ended their transaction,
    so it begins the request's write transaction (BEGIN IMMEDIATE), cannot meet that,
    and is run without the savepoint's two extra statements.
    """
    if in_write_request():
        prepared(statement).run(db.session.connection(), params)
        return
    try:
        with db.session.begin_nested():
            db.session.connection().execute(statement, params)
    except sa.exc.OperationalError:
        pass


def token_user(token: str) -> User | None:
    """The active user of a personal API token not revoked, or None; its last-used time
    is brought up to date now and then."""
    with read_before_writing():
        row = db.session.execute(_TOKEN_USER, {"digest": digest(token)}).one_or_none()
    if row is None:
        return None
    user, token_id, last_used_at = row
    if not user.active:
        return None
    # Written with the request's own changes (and undone with them), as before.
    _record_use_when_due(_due(_TOKEN_USED, {"token_id": token_id}, last_used_at, utcnow()))
    return user


# --- the caller in one statement, without the ORM (the check-in) -------------------

class Caller(NamedTuple):
    """A signed-in user as a lean route needs them: read in one statement of Core, with
    the sign-in's last-used time to bring up to date (`record_use`) when it is due."""

    id: int
    name: str
    role: str
    due: tuple[sa.Update, dict] | None = None
    keyed_row: Any = None  # read with the record of an Idempotency-Key (sql.with_key_record)


_users, _tokens, _sessions = User.__table__, ApiToken.__table__, UserSession.__table__
_CALLER_BY_TOKEN = (
    sa.select(_users.c.id, _users.c.name, _users.c.role, _users.c.active,
              _tokens.c.id.label("use_id"), _tokens.c.last_used_at.label("used_at"))
    .join(_tokens, _tokens.c.user_id == _users.c.id)
    .where(_tokens.c.digest == sa.bindparam("digest"), _tokens.c.revoked_at.is_(None))
)
_CALLER_BY_SESSION = (
    sa.select(_users.c.id, _users.c.name, _users.c.role, _users.c.active,
              _sessions.c.id.label("use_id"), _sessions.c.last_seen_at.label("used_at"),
              _sessions.c.ended_at)
    .join(_sessions, _sessions.c.user_id == _users.c.id)
    .where(_sessions.c.digest == sa.bindparam("digest"))
)


def _due(statement: sa.Update, params: dict, used_at: datetime | None,
         now: datetime) -> tuple[sa.Update, dict] | None:
    """The update of a sign-in's last-used time, when it is due (every
    SESSION_TOUCH_INTERVAL at most), for `_record_use_when_due`."""
    if used_at is None or now - used_at > SESSION_TOUCH_INTERVAL:
        return statement, {**params, "now": now}
    return None


def _record_use_when_due(due: tuple[sa.Update, dict] | None) -> None:
    if due is not None:
        _record_use(*due)


@lru_cache(maxsize=8)
def _keyed(query: sa.Select, dialect: str) -> sa.Select:
    return with_key_record(query, _users.c.id, dialect)


def _caller_row(query: sa.Select, digest_: str, key: str | None) -> sa.Row | None:
    conn = db.session.connection()
    if key is None:
        return prepared(query).first(conn, {"digest": digest_})
    return prepared(_keyed(query, conn.dialect.name)).first(conn, {"digest": digest_, "key": key})


def token_caller(token: str, key: str | None = None) -> Caller | None:
    """`token_user`'s answer as a Caller, in the transaction open (the caller reads it
    within `read_before_writing` and calls `record_use` after); with `key`, the record of
    that Idempotency-Key read in the same statement (`Caller.keyed_row`)."""
    row = _caller_row(_CALLER_BY_TOKEN, digest(token), key)
    if row is None or not row.active:
        return None
    due = _due(_TOKEN_USED, {"token_id": row.use_id}, row.used_at, utcnow())
    return Caller(row.id, row.name, row.role, due, row if key is not None else None)


def session_caller(sid: str, user_id: str, lifetime: timedelta,
                   key: str | None = None) -> Caller | None:
    """`session_user`'s answer as a Caller, as `token_caller`."""
    row = _caller_row(_CALLER_BY_SESSION, digest(sid), key)
    now = utcnow()
    if row is None or not _session_signs_in(row.ended_at, row.id, row.used_at, row.active,
                                            user_id, lifetime, now):
        return None
    due = _due(_SESSION_SEEN, {"session_id": row.use_id}, row.used_at, now)
    return Caller(row.id, row.name, row.role, due, row if key is not None else None)


def record_use(caller: Caller) -> None:
    """Bring the caller's sign-in's last-used time up to date, if it was due."""
    _record_use_when_due(caller.due)


# --- personal API tokens -----------------------------------------------------------

def create_token(user: User, name: str) -> tuple[ApiToken, str]:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name, digest=digest(token), prefix=token[:10])
    db.session.add(row)
    db.session.flush()
    return row, token
