"""Ticket intake from service desks: the configured sources and the deliveries log."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime, enum, utcnow

DELIVERY_OUTCOMES = ("created", "duplicate", "refused")


class IntakeSource(db.Model):
    """A service desk allowed to post tickets to /intake/{key}.

    The shared secret signs each delivery (HMAC-SHA256), so it must be readable by the
    server; it is stored encrypted with a key derived from SECRET_KEY, never in clear.
    """

    __tablename__ = "intake_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    secret_ciphertext: Mapped[str] = mapped_column(sa.Text)
    # The secret replaced by the last rotation, still accepted until it expires.
    previous_secret_ciphertext: Mapped[str | None] = mapped_column(sa.Text)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    secret_rotated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    mapping: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class IntakeDelivery(db.Model):
    """One delivery to the webhook, accepted or refused, for the admin to see. It keeps
    the body's digest and size, never the body, the signature or the secret."""

    __tablename__ = "intake_deliveries"
    __table_args__ = (sa.Index("ix_intake_deliveries_source_received", "source_id", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int | None] = mapped_column(sa.ForeignKey("intake_sources.id"))
    # The key as the caller addressed it (an unknown source has no row).
    source_key: Mapped[str] = mapped_column(sa.String(40))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    outcome: Mapped[str] = mapped_column(enum(*DELIVERY_OUTCOMES, name="delivery_outcome"))
    status: Mapped[int] = mapped_column(sa.SmallInteger)
    code: Mapped[str | None] = mapped_column(sa.String(40))
    detail: Mapped[str | None] = mapped_column(sa.String(500))
    external_id: Mapped[str | None] = mapped_column(sa.String(100))
    job_id: Mapped[int | None] = mapped_column(sa.ForeignKey("jobs.id"), index=True)
    body_sha256: Mapped[str] = mapped_column(sa.String(64))
    body_bytes: Mapped[int]
    remote_addr: Mapped[str | None] = mapped_column(sa.String(64))
