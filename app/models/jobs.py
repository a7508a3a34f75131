"""Work orders (工单), their categories, customer feedback and complaints."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import JOB_STATUSES, PRIORITIES, WORK_TYPES, UTCDateTime, enum, utcnow


class Category(db.Model):
    """A job category and its close checklist; the five defaults live in code until edited."""

    __tablename__ = "categories"

    key: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    checklist: Mapped[list[str]] = mapped_column(sa.JSON)
    signature_required: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Job(db.Model):
    __tablename__ = "jobs"
    __table_args__ = (
        # The engineer's lists and every KPI aggregate filter by engineer and a time.
        sa.Index("ix_jobs_engineer_reported", "engineer_id", "reported_at"),
        sa.Index("ix_jobs_engineer_closed", "engineer_id", "closed_at"),
        sa.Index("ix_jobs_engineer_contact", "engineer_id", "first_contact_at"),
        sa.Index("ix_jobs_engineer_assigned", "engineer_id", "assigned_at"),
        sa.Index("ix_jobs_engineer_status", "engineer_id", "status"),
        # The organisation-wide month of every KPI figure (ranks need everyone's) reads
        # the month's rows by the figure's defining time alone.
        sa.Index("ix_jobs_first_contact", "first_contact_at"),
        sa.Index("ix_jobs_assigned", "assigned_at"),
        sa.Index("ix_jobs_closed", "closed_at"),
        # Repeat-repair detection looks up earlier jobs at the same site.
        sa.Index("ix_jobs_site_closed", "site_id", "closed_at"),
        sa.Index("ix_jobs_status_reported", "status", "reported_at"),
        sa.Index("ix_jobs_created_by", "created_by_id"),
        # A ticket of a service desk becomes one job: its id is unique per source.
        sa.Index("ix_jobs_source_external", "source", "external_id", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id"))
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str | None] = mapped_column(sa.Text)
    category: Mapped[str] = mapped_column(sa.String(40))
    priority: Mapped[str] = mapped_column(enum(*PRIORITIES, name="priority"))
    mode: Mapped[str] = mapped_column(enum(*WORK_TYPES, name="job_mode"), default="field")
    asset_ref: Mapped[str | None] = mapped_column(sa.String(100))
    status: Mapped[str] = mapped_column(enum(*JOB_STATUSES, name="job_status"), default="new")
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    scheduled_for: Mapped[date | None] = mapped_column(sa.Date)
    engineer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str | None] = mapped_column(sa.Text)
    fixed: Mapped[bool | None]
    checklist: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    checklist_complete: Mapped[bool | None]
    repeat_of_id: Mapped[int | None] = mapped_column(sa.ForeignKey("jobs.id"), index=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(sa.Text)
    # Where the ticket came from (an intake source's key, or `csv`) and its id there.
    source: Mapped[str | None] = mapped_column(sa.String(40))
    external_id: Mapped[str | None] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Complaint(db.Model):
    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(sa.ForeignKey("jobs.id"), index=True)
    detail: Mapped[str] = mapped_column(sa.Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    resolution: Mapped[str | None] = mapped_column(sa.Text)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FeedbackLink(db.Model):
    """A signed, single-use link for the customer; only the token's digest is stored."""

    __tablename__ = "feedback_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(sa.ForeignKey("jobs.id"), index=True)
    digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replaced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Feedback(db.Model):
    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(sa.ForeignKey("jobs.id"), unique=True)
    link_id: Mapped[int | None] = mapped_column(sa.ForeignKey("feedback_links.id"))
    score: Mapped[int] = mapped_column(sa.SmallInteger)
    comment: Mapped[str | None] = mapped_column(sa.Text)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
