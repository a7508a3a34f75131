"""The scheduled rules (`flask run-rules`, workday.md "Beyond one machine"): every
time-based rule evaluated for everyone, so that an alert exists even when nobody opens
a list. Reads still evaluate them as before; this raises the same rows, once.

- NO_CHECKOUT on visits left open past OPEN_VISIT_ALERT_S,
- SLA_RISK on jobs whose first-contact limit has passed,
- FLAG_PATTERN on engineers with FLAG_PATTERN_COUNT flagged or rejected visits,
- the keyword scan (KEYWORD, and NEGATIVE_FEEDBACK for a low score) over the texts of
  the last RULES_TEXT_SCAN_DAYS that hold no alert yet: a text saved while the watch
  list lacked a term, or written by an import, is caught on the next run.

Safe on several servers at once, by a database lock held for the run's transaction
(PostgreSQL: an advisory lock; SQLite: the database's write lock, taken first): a second
run waits for the first to commit, then finds nothing left to do. Every row it writes is
also guarded by the alerts' unique dedupe_key, so a read raising the same alert at the
same moment still makes one row.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from app import settings
from app.domain.alerts import OPEN_JOB_STATUSES, dedupe_key, is_negative_score, match_terms
from app.extensions import db
from app.models import Alert, Feedback, Job
from app.services.alerts import (
    JOB_TEXT_FIELDS,
    raise_feedback_alerts,
    raise_job_text_alerts,
    scan_alerts,
    watch_list,
)

# PostgreSQL advisory lock key of the rules run ("RULE" in ASCII).
RULES_LOCK_KEY = 0x52554C45
SCAN_BATCH = 1000


def hold_rules_lock() -> None:
    """Wait for, then hold until the transaction ends, the one lock of a rules run."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": RULES_LOCK_KEY})
    else:
        # A write as the transaction's first statement takes SQLite's write lock (waiting
        # out the busy timeout for another writer) before anything is read: no other
        # run, and no request, writes until this one commits.
        db.session.execute(sa.text("DELETE FROM alerts WHERE 0 = 1"))


def run_rules(now: datetime) -> dict[str, int]:
    """Evaluate every scheduled rule at ``now`` in the caller's transaction (the lock is
    held until it ends); how many alerts or flags each raised."""
    hold_rules_lock()
    counts = scan_alerts(now)
    counts["KEYWORD"], counts["NEGATIVE_FEEDBACK"] = scan_texts(now)
    return counts


def scan_texts(now: datetime) -> tuple[int, int]:
    """KEYWORD and NEGATIVE_FEEDBACK alerts the recent texts call for and lack."""
    since = now - timedelta(days=int(settings.current()["RULES_TEXT_SCAN_DAYS"]))
    terms = watch_list()
    keyword = negative = 0
    jobs = (sa.select(Job.id, Job.description, Job.resolution)
            .where(sa.or_(Job.description.is_not(None), Job.resolution.is_not(None)),
                   sa.or_(Job.reported_at >= since, Job.closed_at >= since,
                          Job.status.in_(OPEN_JOB_STATUSES)))
            .order_by(Job.id))
    due = []
    for row in _batches(jobs):
        for field, subject in JOB_TEXT_FIELDS:
            if match_terms(getattr(row, field), terms):
                due.append((dedupe_key("KEYWORD", subject, row.id), row.id))
    for job_id in _lacking(due):
        keyword += len(raise_job_text_alerts(db.session.get(Job, job_id)))

    feedback = (sa.select(Feedback.id, Feedback.score, Feedback.comment)
                .where(Feedback.submitted_at >= since).order_by(Feedback.id))
    due = []
    for row in _batches(feedback):
        if is_negative_score(row.score):
            due.append((dedupe_key("NEGATIVE_FEEDBACK", "feedback", row.id), row.id))
        if match_terms(row.comment, terms):
            due.append((dedupe_key("KEYWORD", "feedback", row.id), row.id))
    for feedback_id in _lacking(due):
        for alert in raise_feedback_alerts(db.session.get(Feedback, feedback_id)):
            keyword += alert.kind == "KEYWORD"
            negative += alert.kind == "NEGATIVE_FEEDBACK"
    return keyword, negative


def _batches(query: sa.Select):
    with db.session.execute(query.execution_options(yield_per=SCAN_BATCH)) as rows:
        yield from rows


def _lacking(due: list[tuple[str, int]]) -> list[int]:
    """The ids of the (alert key, id) pairs whose alert was not raised yet."""
    lacking: dict[int, None] = {}
    for start in range(0, len(due), SCAN_BATCH):
        batch = due[start:start + SCAN_BATCH]
        known = set(db.session.scalars(
            sa.select(Alert.dedupe_key).where(Alert.dedupe_key.in_([key for key, _ in batch]))))
        lacking.update((row_id, None) for key, row_id in batch if key not in known)
    return list(lacking)
