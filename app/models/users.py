"""People, their sign-in sessions and their personal API tokens."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import LEVELS, ROLES, WORK_TYPES, UTCDateTime, enum, utcnow


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    password_hash: Mapped[str] = mapped_column(sa.String(256))
    role: Mapped[str] = mapped_column(enum(*ROLES, name="role"))
    level: Mapped[str | None] = mapped_column(enum(*LEVELS, name="level"))
    work_type: Mapped[str | None] = mapped_column(enum(*WORK_TYPES, name="work_type"))
    supervisor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    locale: Mapped[str | None] = mapped_column(sa.String(16))
    # Where to call them (the supervisor's tap to call); E.164 or local digits.
    phone: Mapped[str | None] = mapped_column(sa.String(32))
    # Where an engineer starts from when no position of theirs is known yet.
    # (use_alter: sites name their creator, a user.)
    home_site_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sites.id", use_alter=True))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    supervisor: Mapped[User | None] = relationship(remote_side=[id], lazy="raise")

    @property
    def is_active(self) -> bool:  # Flask-Login: inactive users cannot sign in
        return self.active

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.role}>"


class UserSession(db.Model):
    """A browser sign-in. The cookie holds a random id; only its digest is stored,
    so that a logout, a password change or a deactivation can end it at once."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    user_agent: Mapped[str | None] = mapped_column(sa.String(256))


class ApiToken(db.Model):
    """A personal API token, shown once; stored as its SHA-256 digest."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SignInFailure(db.Model):
    """A wrong password, counted against the login limits (5 per account, 20 per address
    in 15 minutes) when no shared rate-limit store is configured: the database is the
    one store every worker process and every server sees. Rows older than the window
    are deleted as new ones come."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (sa.Index("ix_sign_in_failures_scope_key_at", "scope", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(sa.String(16))  # "account" or "address"
    # SHA-256 of the normalised email or of the address: no sign-in attempt kept in clear.
    key: Mapped[str] = mapped_column(sa.String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
