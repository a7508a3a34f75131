"""Who is calling: the session cookie, the login manager's loaders, CSRF and the roles
a route allows. The web half of sign-in; the rows and rules are app/services/auth.py."""
from __future__ import annotations

import hmac
import secrets
from functools import wraps
from typing import Callable

from flask import current_app, g, request, session
from flask_login import current_user, login_user, logout_user

from app.errors import Forbidden, Unauthorized
from app.extensions import in_write_request, login_manager
from app.models import User
from app.services import auth as service


def client_address() -> str | None:
    """The client's address, which the login limits count."""
    return request.remote_addr


def session_id() -> str | None:
    """The id of the caller's browser session (None when signed in with a token)."""
    return session.get("sid")


def start_session(user: User) -> str:
    """A fresh session at every sign-in (no fixation); returns the CSRF token."""
    service.end_session(session.get("sid"))
    session.clear()
    sid = secrets.token_urlsafe(32)
    service.add_session(user, sid, (request.user_agent.string or "")[:256] or None)
    session.permanent = True
    session["sid"] = sid
    session["csrf"] = secrets.token_urlsafe(32)
    login_user(user)
    g.auth_method = "session"
    return session["csrf"]


def end_session() -> None:
    service.end_session(session.get("sid"))
    logout_user()
    session.clear()


def csrf_token() -> str | None:
    return session.get("csrf") if g.get("auth_method") == "session" else None


@login_manager.user_loader
def load_session_user(user_id: str) -> User | None:
    sid = session.get("sid")
    if not sid:
        return None
    user = service.session_user(sid, user_id, current_app.config["PERMANENT_SESSION_LIFETIME"])
    if user is not None:
        g.auth_method = "session"
    return user


@login_manager.request_loader
def load_token_user(req) -> User | None:
    header = req.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    user = service.token_user(token.strip())
    if user is not None:
        g.auth_method = "token"
    return user


def caller(key: str | None = None) -> service.Caller | None:
    """Who is calling, found as Flask-Login's loaders find them (the session cookie's user
    first, then a bearer token) but in one statement of Core: for a lean route (the
    check-in), which then reads nothing through `current_user`. The caller brings their
    sign-in's last-used time up to date afterwards (`service.record_use`). With `key`, the
    record of that Idempotency-Key is read in the same statement."""
    found = None
    user_id, sid = session.get("_user_id"), session.get("sid")
    if user_id is not None and sid:
        lifetime = current_app.config["PERMANENT_SESSION_LIFETIME"]
        found = service.session_caller(sid, user_id, lifetime, key)
        if found is not None:
            g.auth_method = "session"
            return found
    remember = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
    if remember in request.cookies and session.get("_remember") != "clear":
        # Flask-Login then reads that cookie instead of the token. This app never sets
        # one, and its user would be signed in by the session above or not at all.
        return None
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        found = service.token_caller(token.strip(), key)
        if found is not None:
            g.auth_method = "token"
    return found


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
