"""GPS check-in/check-out visits and photo evidence."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import PHOTO_KINDS, VISIT_STATUSES, UTCDateTime, enum, utcnow


class Visit(db.Model):
    __tablename__ = "visits"
    __table_args__ = (
        sa.Index("ix_visits_engineer_in", "engineer_id", "in_client_time"),
        sa.Index("ix_visits_engineer_out", "engineer_id", "out_client_time"),
        sa.Index("ix_visits_engineer_status", "engineer_id", "status"),
        sa.Index("ix_visits_status_in", "status", "in_client_time"),
        sa.Index("ix_visits_job", "job_id", "in_client_time"),
        # DUPLICATE_COORDINATES looks up the engineer's earlier events at a position.
        sa.Index("ix_visits_engineer_in_position", "engineer_id", "in_lat", "in_lon"),
        sa.Index("ix_visits_engineer_out_position", "engineer_id", "out_lat", "out_lon"),
        # NO_CHECKOUT: visits still open (no check-out) since before a cutoff.
        sa.Index("ix_visits_open", "out_client_time", "in_client_time"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(sa.ForeignKey("jobs.id"))
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id"))
    engineer_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(enum(*VISIT_STATUSES, name="visit_status"))
    flags: Mapped[list[str]] = mapped_column(sa.JSON, default=list)

    in_lat: Mapped[float] = mapped_column(sa.Float)
    in_lon: Mapped[float] = mapped_column(sa.Float)
    in_accuracy_m: Mapped[float] = mapped_column(sa.Float)
    in_client_time: Mapped[datetime] = mapped_column(UTCDateTime)
    in_server_time: Mapped[datetime] = mapped_column(UTCDateTime)
    in_distance_m: Mapped[float] = mapped_column(sa.Float)
    in_mock: Mapped[bool] = mapped_column(default=False)
    in_flags: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    # The engineer's reason given with the check-in (a fix outside the fence, say).
    check_in_note: Mapped[str | None] = mapped_column(sa.Text)

    out_lat: Mapped[float | None] = mapped_column(sa.Float)
    out_lon: Mapped[float | None] = mapped_column(sa.Float)
    out_accuracy_m: Mapped[float | None] = mapped_column(sa.Float)
    out_client_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    out_server_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    out_distance_m: Mapped[float | None] = mapped_column(sa.Float)
    out_mock: Mapped[bool | None]
    out_flags: Mapped[list[str] | None] = mapped_column(sa.JSON)

    decision_note: Mapped[str | None] = mapped_column(sa.Text)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rejected_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    dispute_note: Mapped[str | None] = mapped_column(sa.Text)
    disputed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_final: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Photo(db.Model):
    __tablename__ = "photos"
    # An engineer's latest photo with a position (dispatch: their last known position).
    __table_args__ = (sa.Index("ix_photos_uploader_created", "uploaded_by_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(sa.ForeignKey("jobs.id"), index=True)
    visit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("visits.id"), index=True)
    uploaded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(enum(*PHOTO_KINDS, name="photo_kind"))
    content_type: Mapped[str] = mapped_column(sa.String(40))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    # The 64-bit difference hash as a signed integer (BIGINT has no unsigned form).
    dhash: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    # The same hash cut into four 16-bit bands (most significant first), each indexed,
    # so that near duplicates are found without reading every photo: two hashes within
    # d bits agree to within d // 4 bits on at least one band (app/imaging.py; the
    # look-up: app/models/sql.py).
    dhash_band0: Mapped[int] = mapped_column(index=True)
    dhash_band1: Mapped[int] = mapped_column(index=True)
    dhash_band2: Mapped[int] = mapped_column(index=True)
    dhash_band3: Mapped[int] = mapped_column(index=True)
    width: Mapped[int]
    height: Mapped[int]
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    gps_lat: Mapped[float | None] = mapped_column(sa.Float)
    gps_lon: Mapped[float | None] = mapped_column(sa.Float)
    flags: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    original_key: Mapped[str] = mapped_column(sa.String(200))
    display_key: Mapped[str] = mapped_column(sa.String(200))
    thumb_key: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
