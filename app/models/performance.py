"""KPI schemes, closed periods with their frozen cards, reviews, alerts and settings."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import ALERT_KINDS, UTCDateTime, enum, utcnow


class KpiScheme(db.Model):
    """A scheme changed from its default; an absent row means the default applies."""

    __tablename__ = "kpi_schemes"

    key: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    pass_score: Mapped[float] = mapped_column(sa.Float)
    metrics: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class KpiPeriod(db.Model):
    """A closed month (`YYYY-MM`): its cards are frozen from then on."""

    __tablename__ = "kpi_periods"

    period: Mapped[str] = mapped_column(sa.String(7), primary_key=True)
    timezone: Mapped[str] = mapped_column(sa.String(64))
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))


class KpiCard(db.Model):
    """One engineer's frozen card for a closed month, with the scheme it used."""

    __tablename__ = "kpi_cards"
    __table_args__ = (
        sa.UniqueConstraint("period", "engineer_id", name="uq_kpi_cards_period_engineer"),
        # Streaks: who met the target in a closed month, without reading the cards.
        sa.Index("ix_kpi_cards_met", "period", "meets_target", "engineer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(sa.ForeignKey("kpi_periods.period"))
    engineer_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    scheme_key: Mapped[str] = mapped_column(sa.String(20))
    scheme: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    card: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    total_score: Mapped[float | None] = mapped_column(sa.Float)
    meets_target: Mapped[bool] = mapped_column(default=False)
    rank: Mapped[int | None]
    bonus_eligible: Mapped[bool] = mapped_column(default=False)
    streak_months: Mapped[int] = mapped_column(default=0)


class Review(db.Model):
    __tablename__ = "reviews"
    __table_args__ = (sa.Index("ix_reviews_engineer_period", "engineer_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    engineer_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    supervisor_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    period: Mapped[str] = mapped_column(sa.String(7))
    summary: Mapped[str] = mapped_column(sa.Text)
    strengths: Mapped[str | None] = mapped_column(sa.Text)
    improvements: Mapped[str | None] = mapped_column(sa.Text)
    next_targets: Mapped[dict[str, float] | None] = mapped_column(sa.JSON)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReviewActionItem(db.Model):
    __tablename__ = "review_action_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(
        sa.ForeignKey("reviews.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(sa.String(200))
    due_date: Mapped[date] = mapped_column(sa.Date)
    done: Mapped[bool] = mapped_column(default=False)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))


class Alert(db.Model):
    """An early warning; `dedupe_key` makes raising the same alert twice a no-op."""

    __tablename__ = "alerts"
    __table_args__ = (sa.Index("ix_alerts_engineer_created", "engineer_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(enum(*ALERT_KINDS, name="alert_kind"))
    engineer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    job_id: Mapped[int | None] = mapped_column(sa.ForeignKey("jobs.id"), index=True)
    visit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("visits.id"), index=True)
    feedback_id: Mapped[int | None] = mapped_column(sa.ForeignKey("feedback.id"))
    matched: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    # The English sentence (kept for older clients) and the figures it is worded from,
    # which the app words in the user's language from `kind`.
    detail: Mapped[str] = mapped_column(sa.Text)
    params: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    dedupe_key: Mapped[str] = mapped_column(sa.String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dismissed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dismissed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    dismiss_note: Mapped[str | None] = mapped_column(sa.Text)
    # The review action item the alert was turned into (it is dismissed then).
    action_item_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("review_action_items.id", ondelete="SET NULL"))


class Setting(db.Model):
    """Organisation-wide settings edited through the API (the alert watch list)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
    value: Mapped[Any] = mapped_column(sa.JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class KpiFigures(db.Model):
    """One engineer's raw KPI figures for one month, kept with the records.

    `figures` holds, by family of metrics (app.services.kpi.figures.FAMILIES), the family's
    record count and each metric's [value, n] exactly as the SQL aggregates give them; a
    family without records in the month is absent. Every write that can change a figure
    recomputes the (engineer, month) families it touches in its own transaction
    (app.services.kpi.store)."""

    __tablename__ = "kpi_figures"
    __table_args__ = (
        sa.Index("ix_kpi_figures_engineer", "engineer_id", "period"),
        # A month's scores and versions without the figures: the board and its versions.
        sa.Index("ix_kpi_figures_scores", "period", "engineer_id", "version", "scheme_key",
                 "active", "total_score", "meets_target", "response", "efficiency",
                 "satisfaction", "knowledge", "compliance"),
    )

    period: Mapped[str] = mapped_column(sa.String(7), primary_key=True)
    engineer_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), primary_key=True)
    figures: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    # The month scored from `figures` under the engineer's scheme now (kept with them, and
    # again when the scheme or the engineer's level or work type changes): what ranks and
    # the board read without scoring every engineer on every request.
    scheme_key: Mapped[str | None] = mapped_column(sa.String(20))
    active: Mapped[bool] = mapped_column(default=False)
    total_score: Mapped[float | None] = mapped_column(sa.Float)
    meets_target: Mapped[bool] = mapped_column(default=False)
    response: Mapped[float | None] = mapped_column(sa.Float)
    efficiency: Mapped[float | None] = mapped_column(sa.Float)
    satisfaction: Mapped[float | None] = mapped_column(sa.Float)
    knowledge: Mapped[float | None] = mapped_column(sa.Float)
    compliance: Mapped[float | None] = mapped_column(sa.Float)
    # Grows by a random step with every write of the row (app.services.kpi.store): the
    # count and sum of a month's versions change with every committed write to it.
    version: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")


# kpi_month_versions: the rows of a month are counted and their versions summed in this
# many shards (by engineer_id), so that writers of different shards never wait for one
# another on PostgreSQL.
VERSION_SHARDS = 64


class KpiMonthVersions(db.Model):
    """A month's kpi_figures rows counted, and their versions summed, by shard (the
    engineer's id modulo VERSION_SHARDS; a row counts once it has a version, as every row
    the store writes has): kept by the database itself, by triggers on
    kpi_figures (migration 0015), in the transaction of every insert, update and delete
    of a row, however it is written. A board reads whether anything it shows has changed
    from a month's VERSION_SHARDS rows here rather than from every engineer's row; `flask
    kpi-verify` checks them against the rows."""

    __tablename__ = "kpi_month_versions"

    period: Mapped[str] = mapped_column(sa.String(7), primary_key=True)
    shard: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    rows: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    version: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")


class KpiStoreState(db.Model):
    """Whether the stored figures may be read: absent (a database that had the store from
    its first record), or built for `timezone` by `flask kpi-rebuild`. A database upgraded
    with records already in it, or run in another time zone since, reads from the records
    until it is rebuilt."""

    __tablename__ = "kpi_store_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    timezone: Mapped[str | None] = mapped_column(sa.String(64))
    ready: Mapped[bool] = mapped_column(default=False)
    # Grows by a random step whenever who is on a board changes (an engineer added,
    # renamed, moved, deactivated; a scheme; a month closed) or the rows are rebuilt.
    version: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    # The largest lookback of the arrivals any process has used, in seconds (only raised;
    # app.services.kpi.store.arrivals_lookback).
    arrivals_lookback_s: Mapped[int | None] = mapped_column(sa.BigInteger)
