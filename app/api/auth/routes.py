"""/auth: sign-in, the session, personal API tokens."""
from __future__ import annotations

import sqlalchemy as sa
from flask import url_for
from flask.views import MethodView
from flask_login import current_user

from app import idempotency
from app.api import security
from app.api.auth.schemas import (
    LoginSchema,
    NewTokenSchema,
    SessionSchema,
    TokenCreateSchema,
    TokenSchema,
)
from app.api.common import PageArgs, envelope, paginate
from app.api.security import require_roles
from app.api_base import Blueprint
from app.errors import NotFound
from app.extensions import db
from app.models import ApiToken
from app.models.types import utcnow
from app.services import auth as service

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Sign-in and tokens")


@blp.route("/login")
class LoginView(MethodView):
    @blp.arguments(LoginSchema)
    @blp.response(200, SessionSchema)
    def post(self, data):
        """Sign in with email and password; sets the session cookie."""
        user = service.authenticate(data["email"], data["password"], security.client_address())
        csrf = security.start_session(user)
        return {"user": user, "csrf_token": csrf}


@blp.route("/logout")
class LogoutView(MethodView):
    @require_roles()
    @blp.response(204)
    def post(self):
        """End this session."""
        security.end_session()


@blp.route("/me")
class MeView(MethodView):
    @require_roles()
    @blp.response(200, SessionSchema)
    def get(self):
        """The signed-in user and the CSRF token of this session."""
        return {"user": current_user, "csrf_token": security.csrf_token()}


@blp.route("/tokens")
class TokensViews(MethodView):
    @require_roles()
    @blp.arguments(TokenCreateSchema)
    @blp.response(201, NewTokenSchema)
    def post(self, data):
        """Create a personal API token; the token is shown only in this answer.

        A replay of the request (its Idempotency-Key again) answers the same token's
        record with `token` null: only the token's digest is ever stored."""
        row, token = service.create_token(current_user, data["name"].strip())
        idempotency.withhold("token")
        return {"id": row.id, "name": row.name, "prefix": row.prefix,
                "created_at": row.created_at, "last_used_at": None, "token": token}, 201, {
            "Location": url_for("auth.TokenByIdView", token_id=row.id)}

    @require_roles()
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, envelope(TokenSchema))
    def get(self, args):
        """Your tokens that are not revoked (never the tokens themselves)."""
        query = (
            sa.select(ApiToken)
            .where(ApiToken.user_id == current_user.id, ApiToken.revoked_at.is_(None))
            .order_by(ApiToken.id.desc())
        )
        return paginate(query, args)


@blp.route("/tokens/<int:token_id>")
class TokenByIdView(MethodView):
    @require_roles()
    @blp.response(204)
    def delete(self, token_id):
        """Revoke one of your tokens; it answers 401 from now on."""
        row = db.session.scalar(
            sa.select(ApiToken).where(
                ApiToken.id == token_id,
                ApiToken.user_id == current_user.id,
                ApiToken.revoked_at.is_(None),
            )
        )
        if row is None:
            raise NotFound(f"No token {token_id}.")
        row.revoked_at = utcnow()
