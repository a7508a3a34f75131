"""KPI cards, the team board, the records behind a figure, and the monthly close.

A month that is not closed is computed live from the records on every request; a closed
month is read from the cards stored at its close, whatever is edited later. Ranks are
org-wide, so every live figure of a month is computed for all engineers at once
(`figures.raw_figures`, one statement per family); streaks read the stored cards of closed
months and compute the others live, looking back at most LOOKBACK_MONTHS months.
"""
from __future__ import annotations

import weakref
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa

from app import settings
from app.domain.kpi import (
    DIMENSIONS,
    METRICS,
    PROMOTION_STREAK_MONTHS,
    CardScores,
    Ranking,
    Scheme,
    bonus_cutoff,
    compute_card,
    promotion_priority,
    rank_totals,
    round_half_up,
    scheme_to_dict,
)
from app.errors import Conflict, NotFound
from app.extensions import db
from app.models import KpiCard, KpiPeriod, User
from app.models.types import utc_text
from app.scope import get_visible, owned_by_visible, sees_engineer, users_visible
from app.services import audit
from app.services.kpi import figures as source
from app.services.kpi import periods, store
from app.services.kpi.periods import Period
from app.services.kpi.schemes import scheme_key_of, schemes_in_force

# The streak looks at this month and the 23 before it: a streak shows at most 24.
LOOKBACK_MONTHS = 24
# The 23 earlier months in steps: the first settles promotion (three in a row), and most
# streaks end in it, so later steps read the few engineers still on a run.
_FIRST_STEP = PROMOTION_STREAK_MONTHS - 1
LOOKBACK_STEPS = (_FIRST_STEP, 6, LOOKBACK_MONTHS - 1 - 6 - _FIRST_STEP)


def _timezone() -> str:
    return settings.current().timezone


def _bonus_share() -> float:
    return float(settings.current()["BONUS_TOP_SHARE"])


def _promotion(streak: int) -> bool:
    return promotion_priority(streak, int(settings.current()["PROMOTION_STREAK_MONTHS"]))


class Engineer(NamedTuple):
    """What a live month needs of an engineer (read as a row: a board loads them all)."""

    id: int
    name: str
    level: str | None
    work_type: str | None
    active: bool
    supervisor_id: int | None


_ENGINEERS = sa.select(User.id, User.name, User.level, User.work_type, User.active,
                       User.supervisor_id).where(User.role == "engineer")


def visible_engineer(viewer: User, engineer_id: int) -> User:
    """The engineer if the viewer may see their KPIs (self, their supervisor, an admin)."""
    if not 0 < engineer_id < 2**31:  # beyond any id: SQLite cannot even bind it
        raise NotFound(f"No user {engineer_id}.")
    return get_visible(User, engineer_id, sa.and_(users_visible(viewer), User.role == "engineer"))


def _visible_engineer_ids(viewer: User, supervisor_id: int | None) -> set[int]:
    query = sa.select(User.id).where(User.role == "engineer", owned_by_visible(viewer, User.id))
    if supervisor_id is not None:
        query = query.where(User.supervisor_id == supervisor_id)
    return set(db.session.scalars(query))


def _closed(period: Period) -> KpiPeriod | None:
    return db.session.get(KpiPeriod, period.key)


# --- Live months ---------------------------------------------------------------------


@dataclass
class LiveMonth:
    """Every engineer's scored month, ranked org-wide.

    `scores` hold the dimensions, totals and meets_target of everyone, without the metric
    rows; `full()` scores one engineer again with the rows, from the same figures (read
    when first needed, when the scores came stored)."""

    period: Period
    engineers: dict[int, Engineer]
    schemes: dict[str, Scheme]
    scores: dict[int, CardScores]
    active: dict[int, bool]
    rankings: dict[int, Ranking]
    figures: source.Figures | None = None

    def full(self, engineer_id: int, known_readable: bool = False) -> CardScores:
        scheme = self.schemes[scheme_key_of(self.engineers[engineer_id])]
        figures = self.figures
        if figures is None:
            figures = store.figures([self.period], _timezone(), [engineer_id], known_readable)
        return scored_month(scheme, figures, engineer_id, self.period)

    def card(self, engineer_id: int, streak: int, live: bool) -> dict[str, Any]:
        return card_dict(engineer_id, self.period.key, self.full(engineer_id),
                         self.rankings[engineer_id], streak, live=live, frozen=False)


def scored_month(scheme: Scheme, figures: source.Figures, engineer_id: int,
                 period: Period) -> CardScores:
    """An engineer's open month scored from the figures read for it, as its card shows it."""
    found = figures.get((engineer_id, period.key)) or source.EngineerFigures()
    return compute_card(scheme, found.raw, found.active)


def _engineers() -> dict[int, Engineer]:
    """Everyone with the engineer role (deactivated accounts too: their months count)."""
    return {row[0]: Engineer(*row) for row in db.session.connection().execute(_ENGINEERS).all()}


def _score(engineers: dict[int, Engineer], schemes: dict[str, Scheme], figures: source.Figures,
           period: Period) -> tuple[dict[int, CardScores], dict[int, bool]]:
    scores, active = {}, {}
    for engineer_id, engineer in engineers.items():
        found = figures.get((engineer_id, period.key)) or source.EngineerFigures()
        scheme = schemes[scheme_key_of(engineer)]
        scores[engineer_id] = compute_card(scheme, found.raw, found.active, rows=False)
        active[engineer_id] = found.active
    return scores, active


def _stored_scores(engineers: dict[int, Engineer], schemes: dict[str, Scheme],
                   stored: dict[int, store.StoredScores], period: Period
                   ) -> tuple[dict[int, CardScores], dict[int, bool]]:
    """Everyone's scores as the store keeps them; an engineer without a row has no
    records in the month (their empty card, worked out once per scheme)."""
    empty: dict[str, CardScores] = {}
    scores, active = {}, {}
    for engineer_id, engineer in engineers.items():
        key = scheme_key_of(engineer)
        row = stored.get(engineer_id)
        if row is not None and row.scheme_key == key:
            scheme = schemes[key]
            scores[engineer_id] = CardScores(key, scheme.pass_score, (), row.dimensions,
                                             row.total_score, row.meets_target)
            active[engineer_id] = row.active
        elif row is None:
            if key not in empty:
                empty[key] = compute_card(schemes[key], {}, False, rows=False)
            scores[engineer_id], active[engineer_id] = empty[key], False
        else:  # scored under another scheme: cannot be, but never shown stale
            figures = store.figures([period], _timezone(), [engineer_id])
            found = figures.get((engineer_id, period.key)) or source.EngineerFigures()
            scores[engineer_id] = compute_card(schemes[key], found.raw, found.active, rows=False)
            active[engineer_id] = found.active
    return scores, active


def live_month(period: Period, with_figures: bool = True) -> LiveMonth:
    """All engineers' cards for a month computed from the records now; without
    `with_figures`, from the scores the store keeps (figures read when one card needs them)."""
    engineers = _engineers()
    schemes = schemes_in_force()
    stored = None if with_figures else store.month_scores(period, _timezone())
    if stored is None:
        figures = store.figures([period], _timezone())
        scores, active = _score(engineers, schemes, figures, period)
    else:
        figures = None
        scores, active = _stored_scores(engineers, schemes, stored, period)
    # Ranked: the engineers active in the month with a total (kpi.md, Scoring).
    totals = {e: scores[e].total if active[e] else None for e in engineers}
    return LiveMonth(period, engineers, schemes, scores, active,
                     rank_totals(totals, _bonus_share()), figures)


def streaks(month: LiveMonth, engineer_ids: set[int]) -> dict[int, int]:
    """Consecutive months on target ending with `month`, for these engineers.

    Earlier closed months read their stored cards; the others are computed live (with the
    engineer's scheme now). Only engineers on target this month look back, in at most
    len(LOOKBACK_STEPS) steps of one statement per family each (the first step settles
    promotion), and each step only for the engineers whose streak is still running.
    """
    tz = _timezone()
    result = {e: 0 for e in engineer_ids}
    running = sorted(e for e in engineer_ids if month.scores[e].meets_target)
    if not running:
        return result
    window = [periods.shift(month.period, -i, tz) for i in range(1, LOOKBACK_MONTHS)]
    closed, stored = _stored_months(window, running)
    for e in running:
        result[e] = 1
    offset = 0
    for size in LOOKBACK_STEPS:
        months, offset = window[offset:offset + size], offset + size
        if not running or not months:
            break
        computed = _meets_live([p for p in months if p.key not in closed], running, month)
        still = []
        for engineer_id in running:
            for p in months:
                key = (engineer_id, p.key)
                if not (stored.get(key, False) if p.key in closed else computed[key]):
                    break
                result[engineer_id] += 1
            else:
                still.append(engineer_id)
        running = still
    return result


def _stored_months(window: list[Period], engineer_ids: list[int]
                   ) -> tuple[set[str], dict[tuple[int, str], bool]]:
    """The closed months of the window, and these engineers' stored meets_target in them:
    the months they met it (a month without a card or missed is a miss); two statements,
    plain rows (a board reads thousands)."""
    conn = db.session.connection()
    closed = set(conn.execute(sa.select(KpiPeriod.period).where(
        KpiPeriod.period.in_([p.key for p in window]))).scalars())
    # Run even with no month closed: a route's statements do not vary with the data.
    query = sa.select(KpiCard.engineer_id, KpiCard.period).where(
        KpiCard.period.in_(sorted(closed)), KpiCard.meets_target.is_(True))
    if len(engineer_ids) <= store.FEW:
        query = query.where(KpiCard.engineer_id.in_(engineer_ids))
    wanted = set(engineer_ids)
    stored = {(engineer_id, period_key): True
              for engineer_id, period_key in conn.execute(query).all() if engineer_id in wanted}
    return closed, stored


def _meets_live(months: list[Period], engineer_ids: list[int],
                month: LiveMonth) -> dict[tuple[int, str], bool]:
    """meets_target of open months computed now, by (engineer, month)."""
    if not months:
        return {}
    stored = store.meets_targets(months, _timezone(), engineer_ids)
    if stored is not None:
        empty: dict[str, bool] = {}  # a month without records, by scheme
        result = {}
        for e in engineer_ids:
            key = scheme_key_of(month.engineers[e])
            if key not in empty:
                empty[key] = compute_card(month.schemes[key], {}, False, rows=False).meets_target
            for p in months:
                result[(e, p.key)] = stored.get((e, p.key), empty[key])
        return result
    found = store.figures(months, _timezone(), engineer_ids)
    result = {}
    for engineer_id in engineer_ids:
        scheme = month.schemes[scheme_key_of(month.engineers[engineer_id])]
        for p in months:
            figures = found.get((engineer_id, p.key)) or source.EngineerFigures()
            card = compute_card(scheme, figures.raw, figures.active, rows=False)
            result[(engineer_id, p.key)] = card.meets_target
    return result


def card_dict(engineer_id: int, period_key: str, scores: CardScores, ranking: Ranking,
              streak: int, live: bool, frozen: bool) -> dict[str, Any]:
    """The KPI card in kpi.md's shape."""
    return {
        "engineer_id": engineer_id,
        "period": period_key,
        "scheme": scores.scheme,
        "live": live,
        "frozen": frozen,
        "metrics": [asdict(row) for row in scores.metrics],
        "dimensions": dict(scores.dimensions),
        "total_score": scores.total,
        "pass_score": scores.pass_score,
        "meets_target": scores.meets_target,
        "rank": ranking.rank,
        "ranked": ranking.ranked,
        "bonus_eligible": ranking.bonus_eligible,
        "streak_months": streak,
        "promotion_priority": _promotion(streak),
    }


# --- The card ------------------------------------------------------------------------


def engineer_card(viewer: User, engineer_id: int, period_text: str | None) -> dict[str, Any]:
    """GET /kpi/engineers/{id}: live for an open month, the stored card for a closed one."""
    engineer = visible_engineer(viewer, engineer_id)
    tz = _timezone()
    period = periods.resolve(period_text, tz)
    versions, closed = _versions(period)
    if closed:
        return frozen_card(engineer, period)
    live = period.key == periods.current(tz).key
    board = _kept_board(period, versions)
    if board is not None and engineer.id in board.streaks:
        card = board.cards.get(engineer.id)
        if card is None:
            month = board.month
            card = card_dict(engineer.id, period.key, month.full(engineer.id, known_readable=True),
                             month.rankings[engineer.id], board.streaks[engineer.id], live=live,
                             frozen=False)
            if len(board.cards) < _KEPT_CARDS:
                board.cards[engineer.id] = card
        return {**card, "live": live}
    month = _one_engineer_month(engineer, period) or live_month(period)
    streak = streaks(month, {engineer.id})[engineer.id]
    return month.card(engineer.id, streak, live=live)


def _one_engineer_month(engineer: User, period: Period) -> LiveMonth | None:
    """The month of one engineer, ranked among everyone's stored totals in one statement
    (None while the store is not readable)."""
    tz = _timezone()
    figures = store.figures([period], tz, [engineer.id])
    if not store.readable(tz):
        return None
    schemes = schemes_in_force()
    row = Engineer(engineer.id, engineer.name, engineer.level, engineer.work_type, engineer.active,
                   engineer.supervisor_id)
    scores = scored_month(schemes[scheme_key_of(row)], figures, engineer.id, period)
    found = figures.get((engineer.id, period.key))
    active = bool(found and found.active)
    ranked, higher = store.rank_among(period, scores.total if active else None)
    if active and scores.total is not None:
        rank = higher + 1
        ranking = Ranking(rank, ranked, rank <= bonus_cutoff(ranked, _bonus_share()))
    else:
        ranking = Ranking(None, ranked, False)
    return LiveMonth(period, {engineer.id: row}, schemes, {engineer.id: scores},
                     {engineer.id: active}, {engineer.id: ranking}, figures)


def frozen_card(engineer: User, period: Period) -> dict[str, Any]:
    """The card stored at the close. An engineer who had no card then (not yet an
    engineer) gets an empty one: nothing was attributed to them in that month."""
    return _frozen(engineer, period, _stored_card(engineer.id, period))


def _frozen(engineer: User, period: Period, row: KpiCard | None) -> dict[str, Any]:
    """frozen_card from the stored row (None: the engineer had no card that month)."""
    if row is not None:
        card = {k: v for k, v in row.card.items() if k != "records"}
        return {**card, "live": False, "frozen": True}
    ranked = db.session.scalar(
        sa.select(sa.func.count()).where(KpiCard.period == period.key, KpiCard.rank.is_not(None))
    )
    scheme = schemes_in_force()[scheme_key_of(engineer)]
    scores = compute_card(scheme, {}, active=False)
    return card_dict(engineer.id, period.key, scores, Ranking(None, ranked, False), 0,
                     live=False, frozen=True)


# --- The trend ------------------------------------------------------------------------

HISTORY_ITEM_KEYS = ("period", "scheme", "live", "frozen", "total_score", "pass_score",
                     "meets_target", "dimensions")


def engineer_history(viewer: User, engineer_id: int, months: int) -> dict[str, Any]:
    """GET /kpi/engineers/{id}/history: the last `months` months of the engineer's card,
    oldest first, the current month last. A closed month is its frozen card exactly; an
    open one is scored as its card is, from the figures of all the open months read at
    once for this engineer (one statement per family), with their scheme now."""
    engineer = visible_engineer(viewer, engineer_id)
    tz = _timezone()
    now = periods.current(tz)
    window = [periods.shift(now, -back, tz) for back in range(months - 1, -1, -1)]
    keys = [p.key for p in window]
    closed = set(db.session.scalars(sa.select(KpiPeriod.period).where(KpiPeriod.period.in_(keys))))
    stored = {row.period: row for row in db.session.scalars(sa.select(KpiCard).where(
        KpiCard.engineer_id == engineer.id, KpiCard.period.in_(sorted(closed))))} if closed else {}
    open_months = [p for p in window if p.key not in closed]
    figures = store.figures(open_months, tz, [engineer.id]) if open_months else {}
    scheme = schemes_in_force()[scheme_key_of(engineer)] if open_months else None
    items = []
    for period in window:
        if period.key in closed:
            card = _frozen(engineer, period, stored.get(period.key))
        else:
            scores = scored_month(scheme, figures, engineer.id, period)
            card = {"period": period.key, "scheme": scores.scheme, "live": period == now,
                    "frozen": False, "total_score": scores.total, "pass_score": scores.pass_score,
                    "meets_target": scores.meets_target, "dimensions": dict(scores.dimensions)}
        items.append({key: card[key] for key in HISTORY_ITEM_KEYS})
    return {"engineer_id": engineer.id, "months": months, "items": items}


# --- The records behind a figure -----------------------------------------------------


def metric_records(viewer: User, engineer_id: int, period_text: str | None, metric: str,
                   page: int, per_page: int) -> dict[str, Any]:
    """GET /kpi/engineers/{id}/records: the records a figure was computed from, newest
    first, each with its own value (minutes, 100/0 for a rate, +100/0/-100 for nps, 1
    for a count), so that the figure can be worked out again by hand."""
    engineer = visible_engineer(viewer, engineer_id)
    period = periods.resolve(period_text, _timezone())
    head = {"engineer_id": engineer.id, "period": period.key, "metric": metric,
            "page": page, "per_page": per_page}
    if _closed(period):
        return {**head, **_stored_records(engineer.id, period, metric, page, per_page)}
    return {**head, **_live_records(engineer.id, period, metric, page, per_page)}


def _stored_card(engineer_id: int, period: Period) -> KpiCard | None:
    return db.session.scalar(
        sa.select(KpiCard).where(KpiCard.period == period.key, KpiCard.engineer_id == engineer_id)
    )


def _stored_records(engineer_id: int, period: Period, metric: str, page: int,
                    per_page: int) -> dict[str, Any]:
    """A closed month's records as stored with its card (an engineer without a card: none)."""
    row = _stored_card(engineer_id, period)
    card = row.card if row else {"metrics": []}
    stored = (card.get("records") or {}).get(metric, [])
    figure = next((m for m in card["metrics"] if m["key"] == metric), {})
    page_items = stored[(page - 1) * per_page: page * per_page]
    return {"frozen": True, "value": figure.get("value"), "n": figure.get("n", 0),
            "total": len(stored),
            "items": [{**r, "at": datetime.fromisoformat(r["at"])} for r in page_items]}


def _live_records(engineer_id: int, period: Period, metric: str, page: int,
                  per_page: int) -> dict[str, Any]:
    """An open month's records, one page, with the raw figure they give (three statements)."""
    query = source.records_query(metric, [period], [engineer_id])
    total = db.session.scalar(
        sa.select(sa.func.count()).select_from(query.order_by(None).subquery())
    )
    rows = db.session.execute(query.limit(per_page).offset((page - 1) * per_page)).mappings()
    items = [source.record_dict(metric, r) for r in rows]
    family = source.FAMILY_OF_METRIC[metric]
    found = source.raw_figures([period], [engineer_id], families=[family])
    raw = found[(engineer_id, period.key)].raw[metric] if found else None
    return {"frozen": False, "value": round_half_up(raw.value) if raw else None,
            "n": raw.n if raw else 0, "total": total, "items": items}


def _records_of_month(period: Period, engineer_ids: set[int]) -> dict[int, dict[str, list]]:
    """Every engineer's records for every metric, as stored with a closed month's cards
    (one statement per family)."""
    result: dict[int, dict[str, list]] = {e: {} for e in engineer_ids}
    for metric in (m.key for m in METRICS):
        for row in db.session.execute(source.records_query(metric, [period], None)).mappings():
            if row["engineer_id"] in result:
                record = source.record_dict(metric, row)
                record["at"] = utc_text(record["at"])
                result[row["engineer_id"]].setdefault(metric, []).append(record)
    return result


# --- The team board and the export ---------------------------------------------------


def _order(item: dict[str, Any]) -> tuple:
    total = item["total_score"]
    return (total is None, -(total or 0), item["name"].casefold(), item["engineer_id"])


def _board_item(engineer_id: int, name: str, scheme_key: str, total: float | None,
                rank: int | None, meets: bool, bonus: bool, streak: int,
                dimensions: dict[str, Any], promotion: bool | None = None) -> dict[str, Any]:
    level, _, work_type = scheme_key.partition("-")
    return {
        "engineer_id": engineer_id, "name": name, "level": level, "work_type": work_type,
        "total_score": total, "rank": rank, "meets_target": meets, "bonus_eligible": bonus,
        "streak_months": streak,
        "promotion_priority": _promotion(streak) if promotion is None else promotion,
        "dimensions": {d: dimensions.get(d) for d in DIMENSIONS},
    }


def _frozen_rows(viewer: User, period: Period, supervisor_id: int | None, *columns) -> sa.Result:
    query = (
        sa.select(KpiCard.engineer_id, User.name, KpiCard.scheme_key, KpiCard.total_score,
                  KpiCard.rank, KpiCard.meets_target, KpiCard.bonus_eligible,
                  KpiCard.streak_months, *columns)
        .join(User, User.id == KpiCard.engineer_id)
        .where(KpiCard.period == period.key, owned_by_visible(viewer, KpiCard.engineer_id))
    )
    if supervisor_id is not None:
        query = query.where(User.supervisor_id == supervisor_id)
    return db.session.execute(query)


def team_board(viewer: User, period_text: str | None,
               supervisor_id: int | None = None) -> dict[str, Any]:
    """GET /kpi/team: the engineers in scope, best first, those without a total last.

    Deactivated accounts are listed only when they have records in the month."""
    tz = _timezone()
    period = periods.resolve(period_text, tz)
    versions, frozen = _versions(period)
    items = []
    if frozen:
        for row in _frozen_rows(viewer, period, supervisor_id, KpiCard.card["dimensions"]):
            items.append(_board_item(*row[:8], row[8] or {}))
        ranked = db.session.scalar(sa.select(sa.func.count()).where(
            KpiCard.period == period.key, KpiCard.rank.is_not(None)))
        items.sort(key=_order)
    else:
        board = live_board(period, versions)
        items = board.items_for(viewer, supervisor_id)
        ranked = board.ranked
    return {"period": period.key, "live": not frozen and period.key == periods.current(tz).key,
            "frozen": frozen, "ranked": ranked, "items": items}


# --- The live board, kept while nothing it shows has changed -------------------------


@dataclass
class LiveBoard:
    """A month's board as an admin sees it (everyone with an account or records in the
    month, best first), and what a card takes from it; the cards read from it so far.
    Its items and cards are shared by every request that reads them until a write
    changes the board: never changed in place."""

    month: LiveMonth
    supervisors: dict[int, int | None]
    streaks: dict[int, int]
    items: list[dict[str, Any]]
    ranked: int
    cards: dict[int, dict[str, Any]] = field(default_factory=dict)  # read so far
    # (viewer's role and id, supervisor_id) -> the items they see, as read so far
    scoped: dict[tuple, list[dict[str, Any]]] = field(default_factory=dict)

    def items_for(self, viewer: User, supervisor_id: int | None) -> list[dict[str, Any]]:
        """The items `viewer` sees, of `supervisor_id`'s team only when given: picked out
        of the whole board once per viewer and kept with it (at 10,000 engineers picking
        costs a few milliseconds, more than the rest of a kept board's read)."""
        key = (viewer.role, viewer.id, supervisor_id)
        items = self.scoped.get(key)
        if items is None:
            supervisors = self.supervisors
            items = [item for item in self.items
                     if sees_engineer(viewer, item["engineer_id"], supervisors[item["engineer_id"]])
                     and (supervisor_id is None or supervisors[item["engineer_id"]] == supervisor_id)]
            if len(self.scoped) < _KEPT_CARDS:
                self.scoped[key] = items
        return items


# Per database (engine): period key -> (versions, board). A board is kept while the
# versions of its months and the store's state are those read when it was worked out
# (store.versions: every committed write that can change it moves them).
_KEPT: weakref.WeakKeyDictionary[Any, dict[str, tuple[tuple, LiveBoard]]] = \
    weakref.WeakKeyDictionary()
_KEPT_MONTHS = 4
_KEPT_CARDS = 2000  # per board (a card is a few kilobytes)


def forget_kept_boards() -> None:
    """Work every board out afresh on its next read (tests and benchmarks: the versions
    alone decide otherwise)."""
    _KEPT.clear()


def _versions(period: Period) -> tuple[tuple | None, bool]:
    """(What the month's board depends on, read in one statement, or None when it cannot be
    kept: this transaction has written, or the store is not readable; whether the month is
    closed)."""
    tz = _timezone()
    window = [period.key] + [periods.shift(period, -back, tz).key
                             for back in range(1, LOOKBACK_MONTHS)]
    unwritten = store.settled_unwritten(tz)
    found = store.versions(window, period.key)
    if found is None:
        return None, _closed(period) is not None
    count, total, version, stored_tz, ready, closed = found
    if not (unwritten and store.readable_state(stored_tz, ready, tz)):
        return None, closed
    return (count, total, version, tz, _bonus_share(),
            int(settings.current()["PROMOTION_STREAK_MONTHS"])), closed


def _kept_board(period: Period, versions: tuple | None) -> LiveBoard | None:
    if versions is None:
        return None
    found = _KEPT.get(db.engine, {}).get(period.key)
    return found[1] if found is not None and found[0] == versions else None


def live_board(period: Period, versions: tuple | None) -> LiveBoard:
    """The open month's board: the one kept if nothing has changed since `versions` (as
    `_versions` read them), else worked out from the stored scores (and kept)."""
    board = _kept_board(period, versions)
    if board is not None:
        return board
    board = _work_out_board(period)
    if versions is not None:
        kept = _KEPT.setdefault(db.engine, {})
        kept.pop(period.key, None)
        kept[period.key] = (versions, board)
        while len(kept) > _KEPT_MONTHS:
            kept.pop(next(iter(kept)))
    return board


def _work_out_board(period: Period) -> LiveBoard:
    month = live_month(period, with_figures=False)
    shown = {e for e, engineer in month.engineers.items()
             if engineer.active or month.active[e]}
    streak = streaks(month, shown)
    promotion = {n: _promotion(n) for n in set(streak.values())}
    items = []
    for engineer_id in shown:
        scores, ranking = month.scores[engineer_id], month.rankings[engineer_id]
        items.append(_board_item(
            engineer_id, month.engineers[engineer_id].name, scores.scheme, scores.total,
            ranking.rank, scores.meets_target, ranking.bonus_eligible,
            streak[engineer_id], scores.dimensions, promotion[streak[engineer_id]]))
    items.sort(key=_order)
    ranked = next(iter(month.rankings.values())).ranked if month.rankings else 0
    return LiveBoard(month, {e: month.engineers[e].supervisor_id for e in shown}, streak,
                     items, ranked)


EXPORT_COLUMNS = ("engineer_id", "name", "period", "scheme", "metric", "dimension", "value",
                  "n", "target", "floor", "weight", "score", "total_score", "rank",
                  "bonus_eligible")


def export_rows(viewer: User, period_text: str | None,
                supervisor_id: int | None = None) -> tuple[str, list[dict[str, Any]]]:
    """GET /kpi/export: one row per engineer in scope and metric, best engineers first."""
    period = periods.resolve(period_text, _timezone())
    people: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    if _closed(period):
        for row in _frozen_rows(viewer, period, supervisor_id, KpiCard.card["metrics"]):
            engineer_id, name, scheme_key, total, rank, _, bonus, _, metrics = row
            people.append(({"engineer_id": engineer_id, "name": name, "scheme": scheme_key,
                            "total_score": total, "rank": rank, "bonus_eligible": bonus},
                           metrics or []))
    else:
        month = live_month(period)
        for engineer_id in _visible_engineer_ids(viewer, supervisor_id):
            scores, ranking = month.scores[engineer_id], month.rankings[engineer_id]
            if not (month.engineers[engineer_id].active or month.active[engineer_id]):
                continue
            people.append(({"engineer_id": engineer_id, "name": month.engineers[engineer_id].name,
                            "scheme": scores.scheme, "total_score": scores.total,
                            "rank": ranking.rank, "bonus_eligible": ranking.bonus_eligible},
                           [asdict(m) for m in month.full(engineer_id).metrics]))
    people.sort(key=lambda p: _order(p[0]))
    rows = []
    for person, metrics in people:
        for m in metrics:
            rows.append({
                "engineer_id": person["engineer_id"], "name": person["name"],
                "period": period.key, "scheme": person["scheme"], "metric": m["key"],
                "dimension": m["dimension"], "value": m["value"], "n": m["n"],
                "target": m["target"], "floor": m["floor"], "weight": m["weight"],
                "score": m["score"], "total_score": person["total_score"],
                "rank": person["rank"], "bonus_eligible": person["bonus_eligible"],
            })
    return period.key, rows


# --- The monthly close ---------------------------------------------------------------


def close_period(actor: User, period_text: str) -> dict[str, Any]:
    """POST /kpi/periods/{YYYY-MM}/close: store every engineer's card for the month."""
    tz = _timezone()
    period = periods.parse(period_text, tz)
    if period.key >= periods.current(tz).key:
        raise Conflict(f"{period.key} has not ended yet.", code="PERIOD_NOT_ENDED")
    if _closed(period):
        raise Conflict(f"{period.key} is already closed.", code="PERIOD_ALREADY_CLOSED")
    closing = KpiPeriod(period=period.key, timezone=tz, closed_by_id=actor.id)
    try:
        # Claims the month first: a concurrent close waits here, then fails cleanly.
        with db.session.begin_nested():
            db.session.add(closing)
    except sa.exc.IntegrityError:
        raise Conflict(f"{period.key} is already closed.", code="PERIOD_ALREADY_CLOSED") from None

    month = live_month(period)
    everyone = set(month.engineers)
    streak = streaks(month, everyone)
    records = _records_of_month(period, everyone)
    cards = []
    for engineer_id in sorted(everyone):
        scores, ranking = month.scores[engineer_id], month.rankings[engineer_id]
        card = month.card(engineer_id, streak[engineer_id], live=False)
        card.update(frozen=True, records=records[engineer_id])
        cards.append({
            "period": period.key, "engineer_id": engineer_id, "scheme_key": scores.scheme,
            "scheme": scheme_to_dict(month.schemes[scores.scheme]), "card": card,
            "total_score": scores.total, "meets_target": scores.meets_target,
            "rank": ranking.rank, "bonus_eligible": ranking.bonus_eligible,
            "streak_months": streak[engineer_id],
        })
    if cards:
        # One executemany for all the cards (no RETURNING: their ids are not needed).
        db.session.execute(sa.insert(KpiCard), cards)
    ranked = sum(1 for r in month.rankings.values() if r.rank is not None)
    summary = {"period": period.key, "timezone": tz, "engineers": len(cards), "ranked": ranked}
    audit.record(actor.id, "period.close", "kpi_period", None, summary)
    return {**summary, "closed_at": closing.closed_at, "closed_by_id": actor.id}
