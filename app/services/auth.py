"""Sign-in: passwords, browser sessions, personal API tokens, CSRF and login limits."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from functools import wraps
from typing import Callable

import sqlalchemy as sa
from flask import current_app, g, request, session
from flask_login import current_user, login_user, logout_user
from limits import RateLimitItem, parse
from werkzeug.security import check_password_hash, generate_password_hash

from app.errors import DomainError, Forbidden, Unauthorized
from app.extensions import db, in_write_request, limiter, login_manager, read_before_writing
from app.models import ApiToken, SignInFailure, User, UserSession
from app.models.types import utcnow

SESSION_TOUCH_INTERVAL = timedelta(minutes=5)
TOKEN_PREFIX = "fp_"


def digest(secret: str) -> str:
    """Tokens and session ids are 256-bit random values, so one SHA-256 suffices."""
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


# Checked against when the email is unknown, so that both failures take as long.
_DUMMY_HASH: dict[str, str] = {}


def _dummy_hash() -> str:
    method = current_app.config["PASSWORD_HASH_METHOD"]
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

def _limit_keys(email: str) -> list[tuple[RateLimitItem, str, str]]:
    cfg = current_app.config
    return [
        (parse(cfg["LOGIN_LIMIT_PER_ACCOUNT"]), "account", email),
        (parse(cfg["LOGIN_LIMIT_PER_ADDRESS"]), "address", request.remote_addr or "-"),
    ]


def _shared_store() -> bool:
    return not current_app.config["RATELIMIT_STORAGE_URI"].startswith("memory://")


def _too_many(retry_after_s: float) -> DomainError:
    return DomainError("Too many failed sign-ins; try again later.", code="RATE_LIMITED",
                       status=429, headers={"Retry-After": str(max(1, int(retry_after_s) + 1))})


def check_login_limits(email: str) -> None:
    """429 when the account or the address has used up its failures in the window."""
    now = utcnow()
    prefix = current_app.config["RATELIMIT_KEY_PREFIX"]
    for item, scope, key in _limit_keys(email):
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


def count_login_failure(email: str) -> None:
    """Count a wrong password. In the database this is committed on its own, before the
    request answers its 4xx (which undoes everything else the request did)."""
    limits = _limit_keys(email)
    if _shared_store():
        prefix = current_app.config["RATELIMIT_KEY_PREFIX"]
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

def authenticate(email: str, password: str) -> User:
    """The user with these credentials; the same 401 for a wrong email or password."""
    email = normalize_email(email)
    check_login_limits(email)
    user = db.session.scalar(sa.select(User).where(User.email == email))
    valid = check_password_hash(user.password_hash if user else _dummy_hash(), password)
    if not (user and valid):
        count_login_failure(email)
        raise Unauthorized("Wrong email or password.", code="INVALID_CREDENTIALS")
    if not user.active:
        raise Forbidden("This account is disabled.", code="ACCOUNT_DISABLED")
    return user


def start_session(user: User) -> str:
    """A fresh session at every sign-in (no fixation); returns the CSRF token."""
    old_sid = session.get("sid")
    if old_sid:
        _end_session_rows(sa.select(UserSession.id).where(UserSession.digest == digest(old_sid)))
    session.clear()
    sid = secrets.token_urlsafe(32)
    db.session.add(
        UserSession(
            user_id=user.id,
            digest=digest(sid),
            user_agent=(request.user_agent.string or "")[:256] or None,
        )
    )
    session.permanent = True
    session["sid"] = sid
    session["csrf"] = secrets.token_urlsafe(32)
    login_user(user)
    g.auth_method = "session"
    return session["csrf"]


def end_session() -> None:
    sid = session.get("sid")
    if sid:
        _end_session_rows(sa.select(UserSession.id).where(UserSession.digest == digest(sid)))
    logout_user()
    session.clear()


def _end_session_rows(ids: sa.Select) -> None:
    db.session.execute(
        sa.update(UserSession)
        .where(UserSession.id.in_(ids), UserSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )


def end_other_sessions_and_tokens(user: User) -> None:
    """After a password change or a deactivation: every other session ends and every
    token is revoked, at once (the checks below read the database on each request)."""
    keep = session.get("sid") if getattr(current_user, "id", None) == user.id else None
    query = sa.select(UserSession.id).where(UserSession.user_id == user.id)
    if keep:
        query = query.where(UserSession.digest != digest(keep))
    _end_session_rows(query)
    db.session.execute(
        sa.update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def csrf_token() -> str | None:
    return session.get("csrf") if g.get("auth_method") == "session" else None


@login_manager.user_loader
def load_session_user(user_id: str) -> User | None:
    sid = session.get("sid")
    if not sid:
        return None
    with read_before_writing():
        row = db.session.scalar(sa.select(UserSession).where(UserSession.digest == digest(sid)))
        user = None if row is None else db.session.get(User, row.user_id)
    now = utcnow()
    lifetime = current_app.config["PERMANENT_SESSION_LIFETIME"]
    if row is None or row.ended_at is not None or str(row.user_id) != user_id:
        return None
    if now - row.last_seen_at > lifetime:
        return None
    if user is None or not user.active:
        return None
    if now - row.last_seen_at > SESSION_TOUCH_INTERVAL:
        _record_use(_SESSION_SEEN, {"session_id": row.id, "now": now})
    g.auth_method = "session"
    return user


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
        db.session.connection().execute(statement, params)
        return
    try:
        with db.session.begin_nested():
            db.session.connection().execute(statement, params)
    except sa.exc.OperationalError:
        pass


@login_manager.request_loader
def load_token_user(req) -> User | None:
    header = req.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    with read_before_writing():
        row = db.session.execute(_TOKEN_USER, {"digest": digest(token.strip())}).one_or_none()
    if row is None:
        return None
    user, token_id, last_used_at = row
    if not user.active:
        return None
    now = utcnow()
    if last_used_at is None or now - last_used_at > SESSION_TOUCH_INTERVAL:
        # Written with the request's own changes (and undone with them), as before.
        _record_use(_TOKEN_USED, {"token_id": token_id, "now": now})
    g.auth_method = "token"
    return user


@login_manager.unauthorized_handler
def _unauthorized():
    raise Unauthorized("Sign in to use this route.")


def check_csrf() -> None:
    """A cookie-authenticated change must carry the session's CSRF token (403 otherwise)."""
    if g.get("auth_method") != "session" or not in_write_request():
        return
    sent = request.headers.get("X-CSRF-Token", "")
    expected = session.get("csrf", "")
    if not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Forbidden("Send the X-CSRF-Token header from sign-in.", code="CSRF_FAILED")


def require_roles(*roles: str) -> Callable:
    """Signed in (401), CSRF header on cookie sessions (403), role allowed (403).

    Apply it outermost, above flask-smorest's decorators, so that an anonymous caller
    gets 401 before the body is read.
    """

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                raise Unauthorized("Sign in to use this route.")
            check_csrf()
            if roles and current_user.role not in roles:
                raise Forbidden("Your role may not use this route.")
            return view(*args, **kwargs)

        wrapper.__dict__.setdefault("_roles", roles)
        return wrapper

    return decorator


# --- personal API tokens -----------------------------------------------------------

def create_token(user: User, name: str) -> tuple[ApiToken, str]:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name, digest=digest(token), prefix=token[:10])
    db.session.add(row)
    db.session.flush()
    return row, token
