"""Rules of work orders (工单), as pure functions.

Categories and their close checklists, repeat-repair detection, the time bounds of a
dispatch, a first contact, a close and a complaint, and what a close requires. The
services load the figures and persist the results; every rule here takes plain values,
so each bound can be tested without the application.

All times are timezone-aware datetimes. A time "in the future" is one beyond the
server's clock plus ``clock_ahead_tolerance_s`` (phones' clocks drift); exactly at the
tolerance is still accepted, as it is for CLOCK_SKEW in verification.md.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.domain.errors import Conflict, Invalid
from app.domain.verification import OfflineActionTooOld, Thresholds, ensure_not_too_old

# --- Categories and checklists ---------------------------------------------------------

DEFAULT_CHECKLIST: tuple[str, ...] = ("ppe_worn", "power_isolated", "area_cleaned", "customer_briefed")
CHECKLIST_MAX_ITEMS = 20
KEY_MAX_LENGTH = 40
_SNAKE_CASE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")


@dataclass(frozen=True)
class CategoryRule:
    """A job category as a close sees it: its checklist and whether a signature is due."""

    key: str
    name: str
    checklist: tuple[str, ...]
    signature_required: bool = False


# The defaults of api.md; a stored Category row of the same key replaces one.
DEFAULT_CATEGORIES: dict[str, CategoryRule] = {
    rule.key: rule
    for rule in (
        CategoryRule("hvac", "HVAC", DEFAULT_CHECKLIST),
        CategoryRule("electrical", "Electrical", DEFAULT_CHECKLIST),
        CategoryRule("plumbing", "Plumbing", DEFAULT_CHECKLIST),
        CategoryRule("appliance", "Appliance", DEFAULT_CHECKLIST),
        CategoryRule("network", "Network", DEFAULT_CHECKLIST),
    )
}


def is_key(value: str) -> bool:
    """A category or checklist item key: snake_case, at most 40 characters."""
    return len(value) <= KEY_MAX_LENGTH and _SNAKE_CASE.fullmatch(value) is not None


def check_checklist(answers: Mapping[str, bool], items: Sequence[str]) -> bool:
    """No answer to an item the category does not have (422 naming it, under
    ``checklist``); returns whether every item is answered true. An item left
    unanswered is a requirement of the close (``missing_close_requirements``)."""
    unknown = sorted(set(answers) - set(items))
    if unknown:
        raise Invalid("The checklist does not match the category's.", {
            "checklist": [f"{item} is not an item of this category's checklist." for item in unknown]})
    return all(answers.get(item) is True for item in items)


# --- Job states ---------------------------------------------------------------------

OPEN_STATUSES = frozenset({"new", "assigned", "in_progress"})


def ensure_open(status: str) -> None:
    """Nothing moves a closed or cancelled job (409 JOB_CLOSED)."""
    if status not in OPEN_STATUSES:
        raise Conflict(f"The job is {status}.", code="JOB_CLOSED")


# --- Time bounds --------------------------------------------------------------------


def _ahead(at: datetime, now: datetime, t: Thresholds) -> bool:
    return at > now + timedelta(seconds=t.clock_ahead_tolerance_s)


def _refuse(field: str, message: str) -> Invalid:
    return Invalid(message, {field: [message]})


def check_reported_at(reported_at: datetime, now: datetime, t: Thresholds) -> None:
    if _ahead(reported_at, now, t):
        raise _refuse("reported_at", "reported_at may not lie in the future.")


def check_assignment_time(at: datetime, reported_at: datetime, now: datetime, t: Thresholds) -> None:
    """A dispatch is made after the report and not in the future."""
    if at < reported_at:
        raise _refuse("at", "The assignment may not precede the job's reported_at.")
    if _ahead(at, now, t):
        raise _refuse("at", "The assignment time may not lie in the future.")


def check_contact_time(at: datetime, assigned_at: datetime, now: datetime, t: Thresholds) -> None:
    """The first contact follows the (first) assignment and is not in the future."""
    if at < assigned_at:
        raise _refuse("at", "The contact may not precede the job's assigned_at.")
    if _ahead(at, now, t):
        raise _refuse("at", "The contact time may not lie in the future.")


def check_received_at(received_at: datetime, reported_at: datetime, now: datetime,
                      t: Thresholds) -> None:
    """A complaint about a job comes after the job was reported, and not from the future."""
    if received_at < reported_at:
        raise _refuse("received_at", "A complaint may not precede the job's reported_at.")
    if _ahead(received_at, now, t):
        raise _refuse("received_at", "received_at may not lie in the future.")


def check_close_time(client_time: datetime, now: datetime, last_check_out: datetime | None,
                     t: Thresholds) -> None:
    """The close's ``client_time`` (which becomes ``closed_at``): at most
    ``offline_max_age_s`` old (422 OFFLINE_ACTION_TOO_OLD; exactly that age is accepted),
    not in the future, and not before the job's last check-out (equal is accepted)."""
    try:
        ensure_not_too_old(client_time, now, t)
    except OfflineActionTooOld as exc:
        raise Invalid(exc.detail, {"client_time": [exc.detail]}, code=exc.code) from exc
    if _ahead(client_time, now, t):
        raise _refuse("client_time", "client_time may not lie in the future.")
    if last_check_out is not None and client_time < last_check_out:
        raise _refuse("client_time", "A job may not be closed before its last check-out.")


# A day more than the bound below proves: for a check-in and a close racing on
# PostgreSQL (the check-in reads the job open, the close commits first), and whatever
# else a request's own duration can add.
VISIT_AFTER_CLOSE_MARGIN = timedelta(days=1)


def visit_after_close_max(t: Thresholds) -> timedelta:
    """How far a visit of a closed job can lie after the job's ``closed_at``, by its
    check-in's ``client_time``: a bound on every job's records that lets a figure of
    a month (the arrivals) skip the jobs closed long before it.

    A check-in is refused once its job is closed, so it was received (server time S)
    before the close was (C ≥ S), with a ``client_time`` at most ``clock_ahead_max_s``
    after S. The close's ``client_time`` (``closed_at``) is at most ``offline_max_age_s``
    before C. So a visit's check-in lies at most ``offline_max_age_s`` +
    ``clock_ahead_max_s`` after ``closed_at`` (a visit still open at the close is the
    far case: a checked-out one is bounded by the rule above, not before the last
    check-out), plus VISIT_AFTER_CLOSE_MARGIN."""
    return (timedelta(seconds=t.offline_max_age_s) + timedelta(seconds=t.clock_ahead_max_s)
            + VISIT_AFTER_CLOSE_MARGIN)


# --- Close requirements -------------------------------------------------------------


@dataclass(frozen=True)
class CloseEvidence:
    """What the job has to show for itself when it is closed."""

    after_photos: int
    signature_photos: int
    # Visits of the job that are checked out and not rejected.
    completed_visits: int


# The codes of CLOSE_REQUIREMENTS_UNMET's `missing` (workday.md), which the app words.
CHECKED_OUT_VISIT = "CHECKED_OUT_VISIT"
AFTER_PHOTO = "AFTER_PHOTO"
SIGNATURE = "SIGNATURE"
CHECKLIST_PREFIX = "CHECKLIST:"

_MISSING_TEXT = {
    CHECKED_OUT_VISIT: "A field job needs a checked-out visit that was not rejected.",
    AFTER_PHOTO: "Attach at least one `after` photo.",
    SIGNATURE: "This category requires the customer's signature photo.",
}
# The problem document's `errors` keys of the first release, kept for older clients.
_ERROR_FIELD = {CHECKED_OUT_VISIT: "visit", AFTER_PHOTO: "after_photo", SIGNATURE: "signature"}


def missing_close_requirements(evidence: CloseEvidence, mode: str, signature_required: bool,
                               checklist: Sequence[str], answers: Mapping[str, bool]) -> list[str]:
    """Every requirement a close still misses, as codes, in a fixed order: the visit, the
    after photo, the signature, then each checklist item not answered (in the category's
    order). Empty: the job may be closed."""
    missing: list[str] = []
    if mode == "field" and evidence.completed_visits < 1:
        missing.append(CHECKED_OUT_VISIT)
    if evidence.after_photos < 1:
        missing.append(AFTER_PHOTO)
    if signature_required and evidence.signature_photos < 1:
        missing.append(SIGNATURE)
    missing += [CHECKLIST_PREFIX + item for item in checklist if item not in answers]
    return missing


def _missing_text(code: str) -> str:
    if code.startswith(CHECKLIST_PREFIX):
        return f"Answer the checklist item {code.removeprefix(CHECKLIST_PREFIX)}."
    return _MISSING_TEXT[code]


def check_close_requirements(evidence: CloseEvidence, mode: str, signature_required: bool,
                             checklist: Sequence[str], answers: Mapping[str, bool]) -> None:
    """409 CLOSE_REQUIREMENTS_UNMET carrying `missing`, every unmet requirement's code."""
    missing = missing_close_requirements(evidence, mode, signature_required, checklist, answers)
    if not missing:
        return
    errors: dict[str, list[str]] = {}
    for code in missing:
        errors.setdefault(_ERROR_FIELD.get(code, "checklist"), []).append(_missing_text(code))
    raise Conflict(
        "The job cannot be closed yet: " + " ".join(_missing_text(code) for code in missing),
        code="CLOSE_REQUIREMENTS_UNMET", errors=errors, extra={"missing": missing},
    )


# --- Repeat repairs -----------------------------------------------------------------

REPEAT_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class ClosedJob:
    """An earlier, closed (never cancelled) job at the same site."""

    id: int
    asset_ref: str | None
    category: str
    closed_at: datetime


def same_subject(asset_ref: str | None, category: str, other_asset_ref: str | None,
                 other_category: str) -> bool:
    """The same asset when both name one; otherwise the same category."""
    if asset_ref and other_asset_ref:
        return asset_ref == other_asset_ref
    return category == other_category


def within_repeat_window(reported_at: datetime, closed_at: datetime) -> bool:
    """Reported after the earlier close and at most 30 days after it (both ends exact)."""
    return closed_at < reported_at <= closed_at + REPEAT_WINDOW


def repeat_of(asset_ref: str | None, category: str, reported_at: datetime,
              earlier: Iterable[ClosedJob]) -> int | None:
    """The id of the job a new job repeats: among the matching earlier jobs of its
    site, the latest closed (the higher id on a tie); None when there is none."""
    matches = [
        job for job in earlier
        if same_subject(asset_ref, category, job.asset_ref, job.category)
        and within_repeat_window(reported_at, job.closed_at)
    ]
    if not matches:
        return None
    return max(matches, key=lambda job: (job.closed_at, job.id)).id


def repeat_target_error(job_id: int, site_id: int, reported_at: datetime, target_id: int,
                        target_site_id: int, target_status: str,
                        target_closed_at: datetime | None) -> str | None:
    """Why a job chosen by hand as ``repeat_of_id`` cannot be one (None: it can): it must
    be another job at the same site, closed before this job was reported."""
    if target_id == job_id:
        return "A job cannot repeat itself."
    if target_site_id != site_id:
        return "The earlier job must be at the same site."
    if target_status != "closed" or target_closed_at is None:
        return "The earlier job must be closed."
    if target_closed_at >= reported_at:
        return "The earlier job must have been closed before this job was reported."
    return None
