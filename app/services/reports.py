"""The weekly report (workday.md, Reports and intake): a team's or the company's week.

Every KPI figure comes from the code of the KPI cards: `kpi.figures.raw_figures` read
with the week's bounds gives each engineer's raw figures exactly as a card of those days
would, and `app.domain.reports.pooled` pools them for the group. The engineers below
target and the month-to-date figures come from the live month of the cards
(`kpi.cards.live_month`). Only the plain counts (jobs, visits, decisions, alerts) are
read here.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from app import settings
from app.domain import reports as arithmetic
from app.domain.kpi import METRICS_BY_KEY, RawFigure, round_half_up
from app.errors import Forbidden, Invalid, NotFound
from app.extensions import db
from app.models import Alert, Job, User, Visit
from app.services.kpi import figures as source
from app.services.kpi import periods
from app.services.kpi.cards import live_month, scheme_key_of
from app.services.kpi.periods import Period

CANCELLED = "cancelled"


def _timezone() -> str:
    return settings.current().timezone


def week_period(monday: date, timezone: str) -> Period:
    """The ISO week starting on `monday`, Monday 00:00 to Monday 00:00 in `timezone`."""
    zone = ZoneInfo(timezone)

    def start(day: date) -> datetime:
        return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)

    return Period(arithmetic.week_key(monday), start(monday), start(monday + timedelta(days=7)))


def resolve_week(text: str | None, timezone: str) -> Period:
    """The week asked for (`YYYY-Www`), or the last whole week; 422 for a week to come."""
    today = datetime.now(UTC).astimezone(ZoneInfo(timezone)).date()
    this_monday = today - timedelta(days=today.weekday())
    if text is None:
        return week_period(arithmetic.previous_monday(this_monday), timezone)
    monday = arithmetic.week_monday(text)
    if monday is None:
        raise Invalid("Give the week as YYYY-Www.",
                      {"week": ["Must be an ISO week YYYY-Www (W01–W53) from 2000 to 2099."]})
    if monday > this_monday:
        raise Invalid("That week has not begun.",
                      {"week": [f"Must not be after {arithmetic.week_key(this_monday)}."]})
    return week_period(monday, timezone)


# --- Who the report is about ---------------------------------------------------------


def _subject(viewer: User, supervisor_id: int | None) -> int | None:
    """Whose report the viewer may read: a supervisor their own team's (another
    supervisor's team: 403); an admin the company's (None) or any team's."""
    if viewer.role == "supervisor":
        if supervisor_id not in (None, viewer.id):
            raise Forbidden("A supervisor reports on their own team.")
        return viewer.id
    return supervisor_id


def team_supervisor(reference: str | int) -> User:
    """A team by its supervisor's id or email (404 when no supervisor is so named)."""
    text = str(reference).strip()
    if text.isascii() and text.isdigit():
        supervisor = db.session.get(User, int(text)) if 0 < int(text) < 2**31 else None
    else:
        supervisor = db.session.scalar(sa.select(User).where(
            sa.func.lower(User.email) == text.lower()))
    if supervisor is None or supervisor.role != "supervisor":
        raise NotFound(f"No supervisor {text}.")
    return supervisor


def _scope(supervisor_id: int | None) -> tuple[dict[str, Any], list[int] | None]:
    """The report's subject and its engineers' ids (None: the whole company)."""
    if supervisor_id is None:
        return {"scope": "company", "supervisor_id": None, "supervisor_name": None}, None
    supervisor = team_supervisor(supervisor_id)
    ids = list(db.session.scalars(sa.select(User.id).where(
        User.role == "engineer", User.supervisor_id == supervisor.id).order_by(User.id)))
    return {"scope": "team", "supervisor_id": supervisor.id,
            "supervisor_name": supervisor.name}, ids


def _of(column, ids: list[int] | None) -> sa.ColumnElement[bool]:
    return sa.true() if ids is None else column.in_(ids)


# --- The plain counts ----------------------------------------------------------------


def _count(*where) -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).where(*where)) or 0)


def _activity(week: Period, ids: list[int] | None) -> dict[str, int]:
    """The week's jobs, visits, flags and decisions. A company's jobs include those not
    assigned to anyone; a team's are its engineers'."""
    def within(column):
        return sa.and_(column >= week.start, column < week.end)

    job_scope = _of(Job.engineer_id, ids)
    visit_scope = _of(Visit.engineer_id, ids)
    return {
        "jobs_reported": _count(within(Job.reported_at), job_scope),
        "jobs_closed": _count(within(Job.closed_at), Job.status != CANCELLED, job_scope),
        "visits": _count(within(Visit.in_client_time), visit_scope),
        # A visit that raised a flag went to the verification queue: it is no longer
        # plain `verified`, whatever was decided since.
        "flagged_visits": _count(within(Visit.in_client_time), Visit.status != "verified",
                                 visit_scope),
        "approved": _count(within(Visit.decided_at), Visit.status == "approved", visit_scope),
        "rejected": _count(within(Visit.rejected_at), visit_scope),
    }


def _open_alerts(ids: list[int] | None) -> dict[str, Any]:
    """The alerts not dismissed now, by kind (a team's: those on its engineers)."""
    rows = db.session.execute(
        sa.select(Alert.kind, sa.func.count()).where(
            Alert.dismissed_at.is_(None), _of(Alert.engineer_id, ids))
        .group_by(Alert.kind).order_by(Alert.kind)
    ).all()
    by_kind = {kind: int(n) for kind, n in rows}
    return {"total": sum(by_kind.values()), "by_kind": by_kind}


# --- The KPI figures -----------------------------------------------------------------


def _pooled(figures: source.Figures, key: str, metric: str,
            ids: list[int] | None) -> RawFigure:
    members = set(ids or ())
    return arithmetic.pooled(metric, (
        found.raw[metric] for (engineer_id, period_key), found in figures.items()
        if period_key == key and (ids is None or engineer_id in members) and metric in found.raw
    ))


def _figure(metric: str, raw: RawFigure) -> dict[str, Any]:
    """A pooled figure as shown: a count without records is 0, a mean or rate has none.
    Unlike a card, a figure on few records is shown (with its n beside it)."""
    if METRICS_BY_KEY[metric].kind == "count":
        return {"value": raw.value or 0.0, "n": raw.n}
    return {"value": round_half_up(raw.value) if raw.n else None, "n": raw.n}


def weekly_report(viewer: User, week_text: str | None,
                  supervisor_id: int | None = None) -> dict[str, Any]:
    """GET /reports/weekly: the week against the previous one and the month's targets."""
    return build_report(week_text, _subject(viewer, supervisor_id))


def build_report(week_text: str | None, supervisor_id: int | None) -> dict[str, Any]:
    """The report of a supervisor's team (None: the company) for a week (None: the last
    whole one), as the route and the weekly-report command give it."""
    tz = _timezone()
    week = resolve_week(week_text, tz)
    previous = week_period(arithmetic.previous_monday(week.start.astimezone(ZoneInfo(tz)).date()),
                           tz)
    subject, ids = _scope(supervisor_id)
    # The month the week ends in (its Sunday; the week in progress: today's month), as
    # the cards compute it now.
    zone = ZoneInfo(tz)
    sunday = min((week.end.astimezone(zone) - timedelta(days=1)).date(),
                 datetime.now(UTC).astimezone(zone).date())
    month = live_month(periods.month(sunday.year, sunday.month, tz))
    members = sorted(month.engineers if ids is None else ids)
    weekly = source.raw_figures([week, previous], members)

    kpis = []
    for metric in arithmetic.REPORT_METRICS:
        definition = METRICS_BY_KEY[metric]
        this_week = _pooled(weekly, week.key, metric, ids)
        last_week = _pooled(weekly, previous.key, metric, ids)
        to_date = _pooled(month.figures, month.period.key, metric, ids)
        targets = [entry.target for e in members
                   if (entry := month.schemes[scheme_key_of(month.engineers[e])].metric(metric))]
        this, last = _figure(metric, this_week), _figure(metric, last_week)
        kpis.append({
            "key": metric, "unit": definition.unit, "better": definition.better,
            "week": this, "previous_week": last,
            "change": round_half_up(arithmetic.change(this["value"], last["value"])),
            "month_to_date": _figure(metric, to_date),
            "month_target": round_half_up(arithmetic.group_target(metric, targets)),
        })

    totals = {e: (month.scores[e].total if month.active[e] else None, month.scores[e].pass_score)
              for e in members}
    below = [{"engineer_id": e, "name": month.engineers[e].name,
              "total_score": month.scores[e].total, "pass_score": month.scores[e].pass_score,
              "points_below": round_half_up(points)}
             for e, points in arithmetic.furthest_below(totals)]

    this_activity, last_activity = _activity(week, ids), _activity(previous, ids)
    return {
        **subject,
        "week": week.key, "timezone": tz, "starts_at": week.start, "ends_at": week.end,
        "previous_week": previous.key, "month": month.period.key,
        "engineers": len(members),
        "activity": [{"key": k, "week": v, "previous_week": last_activity[k],
                      "change": v - last_activity[k]} for k, v in this_activity.items()],
        "kpis": kpis,
        "below_target": below,
        "open_alerts": _open_alerts(ids),
    }
