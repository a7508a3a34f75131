"""Knowledge cases and documents, trainings and compliance events."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import (
    COMPLIANCE_KINDS,
    KNOWLEDGE_KINDS,
    KNOWLEDGE_STATUSES,
    SEVERITIES,
    UTCDateTime,
    enum,
    utcnow,
)


class KnowledgeItem(db.Model):
    __tablename__ = "knowledge_items"
    __table_args__ = (
        sa.Index("ix_knowledge_author_reviewed", "author_id", "status", "reviewed_at"),
        sa.Index("ix_knowledge_status_created", "status", "created_at"),
        sa.Index("ix_knowledge_status_reviewed", "status", "reviewed_at"),
        sa.CheckConstraint("quality IS NULL OR (quality >= 1 AND quality <= 5)", name="quality_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(enum(*KNOWLEDGE_KINDS, name="knowledge_kind"))
    title: Mapped[str] = mapped_column(sa.String(200))
    symptom: Mapped[str | None] = mapped_column(sa.Text)
    cause: Mapped[str | None] = mapped_column(sa.Text)
    solution: Mapped[str] = mapped_column(sa.Text)
    tags: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    job_id: Mapped[int | None] = mapped_column(sa.ForeignKey("jobs.id"))
    status: Mapped[str] = mapped_column(
        enum(*KNOWLEDGE_STATUSES, name="knowledge_status"), default="submitted"
    )
    # Search terms derived from the text (words and character bigrams), kept beside it
    # so that Chinese written without spaces can be found by an index.
    search_terms: Mapped[str | None] = mapped_column(sa.Text)
    quality: Mapped[int | None] = mapped_column(sa.SmallInteger)
    review_note: Mapped[str | None] = mapped_column(sa.Text)
    reviewed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CasePhoto(db.Model):
    """A photo on a knowledge case: the job photos' pipeline and files, none of their
    verification (a case is not evidence of a visit)."""

    __tablename__ = "case_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(
        sa.ForeignKey("knowledge_items.id", ondelete="CASCADE"), index=True
    )
    uploaded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    content_type: Mapped[str] = mapped_column(sa.String(40))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(sa.String(64))
    width: Mapped[int]
    height: Mapped[int]
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    original_key: Mapped[str] = mapped_column(sa.String(200))
    display_key: Mapped[str] = mapped_column(sa.String(200))
    thumb_key: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class KnowledgeTag(db.Model):
    __tablename__ = "knowledge_tags"

    item_id: Mapped[int] = mapped_column(
        sa.ForeignKey("knowledge_items.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(sa.String(60), primary_key=True, index=True)


class KnowledgeTerm(db.Model):
    """One search term of a knowledge item (app/domain/search.py), with the best weight
    of the fields it appears in; a search looks terms up by the index on `term`."""

    __tablename__ = "knowledge_terms"
    __table_args__ = (sa.Index("ix_knowledge_terms_term_item", "term", "item_id"),)

    item_id: Mapped[int] = mapped_column(
        sa.ForeignKey("knowledge_items.id", ondelete="CASCADE"), primary_key=True
    )
    term: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    weight: Mapped[int] = mapped_column(sa.SmallInteger)


class Training(db.Model):
    __tablename__ = "trainings"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    held_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    hours: Mapped[Decimal] = mapped_column(sa.Numeric(5, 2))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # Loaded for a whole page at once (one IN query), never row by row.
    attendees: Mapped[list[TrainingAttendee]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", passive_deletes=True,
    )

    @property
    def attendee_ids(self) -> list[int]:
        return sorted(attendee.user_id for attendee in self.attendees)


class TrainingAttendee(db.Model):
    __tablename__ = "training_attendees"

    training_id: Mapped[int] = mapped_column(
        sa.ForeignKey("trainings.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), primary_key=True, index=True)


class ComplianceEvent(db.Model):
    __tablename__ = "compliance_events"
    __table_args__ = (
        sa.Index("ix_compliance_engineer_occurred", "engineer_id", "occurred_at"),
        sa.Index("ix_compliance_occurred", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    engineer_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(enum(*COMPLIANCE_KINDS, name="compliance_kind"))
    severity: Mapped[str] = mapped_column(enum(*SEVERITIES, name="severity"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(sa.Text)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
