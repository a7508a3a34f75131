"""The pure rules of work orders (app/domain/jobs.py), at and around every bound."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.errors import Conflict, Invalid
from app.domain.jobs import (
    DEFAULT_CATEGORIES,
    DEFAULT_CHECKLIST,
    REPEAT_WINDOW,
    ClosedJob,
    CloseEvidence,
    check_assignment_time,
    check_checklist,
    check_close_requirements,
    check_close_time,
    check_contact_time,
    check_received_at,
    check_reported_at,
    ensure_open,
    is_key,
    repeat_of,
    repeat_target_error,
    same_subject,
    missing_close_requirements,
    visit_after_close_max,
    within_repeat_window,
)
from app.domain.verification import ClientTimeFarAhead, Thresholds, ensure_not_far_ahead

NOW = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
T = Thresholds()  # the specification's defaults
AHEAD = timedelta(seconds=T.clock_ahead_tolerance_s)
MAX_AGE = timedelta(seconds=T.offline_max_age_s)
SECOND = timedelta(seconds=1)


def field_errors(excinfo) -> dict:
    return excinfo.value.errors


# --- categories and checklists --------------------------------------------------------

def test_the_five_default_categories_have_the_four_default_items():
    assert sorted(DEFAULT_CATEGORIES) == ["appliance", "electrical", "hvac", "network", "plumbing"]
    assert DEFAULT_CHECKLIST == ("ppe_worn", "power_isolated", "area_cleaned", "customer_briefed")
    for rule in DEFAULT_CATEGORIES.values():
        assert rule.checklist == DEFAULT_CHECKLIST and rule.signature_required is False


@pytest.mark.parametrize("key, ok", [
    ("hvac", True), ("solar_panels", True), ("lift2", True), ("a" * 40, True),
    ("a" * 41, False), ("", False), ("Hvac", False), ("2lift", False), ("_x", False),
    ("x_", False), ("a__b", False), ("a-b", False), ("a b", False), ("空调", False),
])
def test_keys_are_snake_case_up_to_40_characters(key, ok):
    assert is_key(key) is ok


def test_a_full_checklist_of_true_answers_is_complete():
    assert check_checklist(dict.fromkeys(DEFAULT_CHECKLIST, True), DEFAULT_CHECKLIST) is True


def test_one_false_answer_makes_the_checklist_incomplete():
    answers = {**dict.fromkeys(DEFAULT_CHECKLIST, True), "area_cleaned": False}
    assert check_checklist(answers, DEFAULT_CHECKLIST) is False


def test_a_missing_item_is_no_422_but_an_incomplete_checklist():
    """An unanswered item is a requirement the close misses (CHECKLIST:<item>), not bad input."""
    answers = dict.fromkeys(DEFAULT_CHECKLIST[1:], True)
    assert check_checklist(answers, DEFAULT_CHECKLIST) is False


def test_an_unknown_item_is_named():
    answers = {**dict.fromkeys(DEFAULT_CHECKLIST, True), "ladder_secured": True}
    with pytest.raises(Invalid) as excinfo:
        check_checklist(answers, DEFAULT_CHECKLIST)
    assert field_errors(excinfo)["checklist"] == [
        "ladder_secured is not an item of this category's checklist."]


# --- states ----------------------------------------------------------------------------

@pytest.mark.parametrize("status", ["new", "assigned", "in_progress"])
def test_open_jobs_may_move(status):
    ensure_open(status)


@pytest.mark.parametrize("status", ["closed", "cancelled"])
def test_closed_and_cancelled_jobs_are_job_closed(status):
    with pytest.raises(Conflict) as excinfo:
        ensure_open(status)
    assert excinfo.value.code == "JOB_CLOSED" and excinfo.value.status == 409


# --- time bounds -------------------------------------------------------------------------

@pytest.mark.parametrize("offset, ok", [(-MAX_AGE * 10, True), (timedelta(0), True),
                                        (AHEAD, True), (AHEAD + SECOND, False)])
def test_reported_at_may_be_ahead_only_by_the_clock_tolerance(offset, ok):
    if ok:
        check_reported_at(NOW + offset, NOW, T)
    else:
        with pytest.raises(Invalid) as excinfo:
            check_reported_at(NOW + offset, NOW, T)
        assert "reported_at" in field_errors(excinfo)


REPORTED = NOW - timedelta(hours=3)


@pytest.mark.parametrize("at, ok", [
    (REPORTED - SECOND, False), (REPORTED, True), (REPORTED + SECOND, True),
    (NOW, True), (NOW + AHEAD, True), (NOW + AHEAD + SECOND, False),
])
def test_an_assignment_lies_between_the_report_and_now(at, ok):
    if ok:
        check_assignment_time(at, REPORTED, NOW, T)
    else:
        with pytest.raises(Invalid) as excinfo:
            check_assignment_time(at, REPORTED, NOW, T)
        assert "at" in field_errors(excinfo)


ASSIGNED = NOW - timedelta(hours=2)


@pytest.mark.parametrize("at, ok", [
    (ASSIGNED - SECOND, False), (ASSIGNED, True), (ASSIGNED + SECOND, True),
    (NOW + AHEAD, True), (NOW + AHEAD + SECOND, False),
])
def test_a_first_contact_lies_between_the_assignment_and_now(at, ok):
    if ok:
        check_contact_time(at, ASSIGNED, NOW, T)
    else:
        with pytest.raises(Invalid) as excinfo:
            check_contact_time(at, ASSIGNED, NOW, T)
        assert "at" in field_errors(excinfo)


@pytest.mark.parametrize("at, ok", [
    (REPORTED - SECOND, False), (REPORTED, True), (NOW + AHEAD, True), (NOW + AHEAD + SECOND, False),
])
def test_a_complaint_lies_between_the_report_and_now(at, ok):
    if ok:
        check_received_at(at, REPORTED, NOW, T)
    else:
        with pytest.raises(Invalid) as excinfo:
            check_received_at(at, REPORTED, NOW, T)
        assert "received_at" in field_errors(excinfo)


LAST_OUT = NOW - timedelta(hours=1)


@pytest.mark.parametrize("client_time, ok", [
    (LAST_OUT - SECOND, False), (LAST_OUT, True), (LAST_OUT + SECOND, True),
    (NOW, True), (NOW + AHEAD, True), (NOW + AHEAD + SECOND, False),
])
def test_a_close_lies_between_the_last_check_out_and_now(client_time, ok):
    if ok:
        check_close_time(client_time, NOW, LAST_OUT, T)
    else:
        with pytest.raises(Invalid) as excinfo:
            check_close_time(client_time, NOW, LAST_OUT, T)
        assert excinfo.value.code == "VALIDATION_ERROR"
        assert "client_time" in field_errors(excinfo)


@pytest.mark.parametrize("age, ok", [(MAX_AGE - SECOND, True), (MAX_AGE, True), (MAX_AGE + SECOND, False)])
def test_an_offline_close_may_be_at_most_offline_max_age_old(age, ok):
    if ok:
        check_close_time(NOW - age, NOW, None, T)
    else:
        with pytest.raises(Invalid) as excinfo:
            check_close_time(NOW - age, NOW, None, T)
        assert excinfo.value.code == "OFFLINE_ACTION_TOO_OLD" and excinfo.value.status == 422
        assert "client_time" in field_errors(excinfo)


def test_a_close_without_visits_has_no_check_out_bound():
    check_close_time(NOW - MAX_AGE, NOW, None, T)


def test_a_visit_lies_after_its_jobs_close_by_at_most_the_bound_the_rules_allow():
    """The far case the rules accept: a check-in received just before the close, its
    phone's clock as far ahead as accepted, the visit still open; the close replayed
    from the phone as old as accepted. Each rule refuses a second more."""
    received = NOW  # the check-in; the close is received at the same moment
    checked_in = received + timedelta(seconds=T.clock_ahead_max_s)
    ensure_not_far_ahead(checked_in, received, T)
    with pytest.raises(ClientTimeFarAhead):
        ensure_not_far_ahead(checked_in + SECOND, received, T)
    closed_at = NOW - MAX_AGE
    check_close_time(closed_at, NOW, None, T)  # no check-out: the open visit has none
    with pytest.raises(Invalid):
        check_close_time(closed_at - SECOND, NOW, None, T)
    gap = checked_in - closed_at
    assert gap == timedelta(days=4)  # 1 day ahead + 3 days offline (the defaults)
    assert visit_after_close_max(T) == gap + timedelta(days=1)
    larger = Thresholds(offline_max_age_s=10 * 86400, clock_ahead_max_s=2 * 86400)
    assert visit_after_close_max(larger) == timedelta(days=13)


def test_the_thresholds_come_from_the_settings():
    t = Thresholds.from_settings({"CLOCK_AHEAD_TOLERANCE_S": 0, "OFFLINE_MAX_AGE_S": 60})
    check_close_time(NOW - timedelta(seconds=60), NOW, None, t)
    with pytest.raises(Invalid):
        check_close_time(NOW + SECOND, NOW, None, t)
    with pytest.raises(Invalid):
        check_close_time(NOW - timedelta(seconds=61), NOW, None, t)


# --- close requirements ------------------------------------------------------------------

FULL = CloseEvidence(after_photos=1, signature_photos=1, completed_visits=1)
ALL = dict.fromkeys(DEFAULT_CHECKLIST, True)


def missing(evidence: CloseEvidence, mode: str = "field", signature: bool = False,
            answers: dict | None = None) -> list[str]:
    return missing_close_requirements(evidence, mode, signature, DEFAULT_CHECKLIST,
                                      ALL if answers is None else answers)


def test_a_job_with_all_its_evidence_may_close():
    assert missing(FULL, signature=True) == []
    check_close_requirements(FULL, "field", True, DEFAULT_CHECKLIST, ALL)


def test_false_answers_are_answers():
    assert missing(FULL, answers=dict.fromkeys(DEFAULT_CHECKLIST, False)) == []


def test_an_after_photo_is_required():
    evidence = CloseEvidence(after_photos=0, signature_photos=1, completed_visits=1)
    assert missing(evidence) == ["AFTER_PHOTO"]
    assert missing(evidence, "remote") == ["AFTER_PHOTO"]


def test_a_field_job_needs_a_completed_visit_and_a_remote_one_does_not():
    evidence = CloseEvidence(after_photos=1, signature_photos=0, completed_visits=0)
    assert missing(evidence) == ["CHECKED_OUT_VISIT"]
    assert missing(evidence, "remote") == []


def test_a_signature_is_required_only_when_the_category_says_so():
    evidence = CloseEvidence(after_photos=1, signature_photos=0, completed_visits=1)
    assert missing(evidence) == []
    assert missing(evidence, signature=True) == ["SIGNATURE"]


def test_a_missing_signature_alone_names_the_signature_alone():
    """With the visit and the after photo there, nothing else is named (the first
    release's app said the after photo and the visit were missing)."""
    evidence = CloseEvidence(after_photos=2, signature_photos=0, completed_visits=3)
    with pytest.raises(Conflict) as excinfo:
        check_close_requirements(evidence, "field", True, DEFAULT_CHECKLIST, ALL)
    assert excinfo.value.extra == {"missing": ["SIGNATURE"]}
    assert excinfo.value.errors == {"signature": ["This category requires the customer's signature photo."]}
    assert excinfo.value.detail == ("The job cannot be closed yet: "
                                    "This category requires the customer's signature photo.")


def test_every_unanswered_item_is_missing_in_the_checklists_order():
    answers = {"area_cleaned": False, "ppe_worn": True}
    assert missing(FULL, answers=answers) == ["CHECKLIST:power_isolated", "CHECKLIST:customer_briefed"]


def test_unmet_requirements_are_a_409_listing_all_of_them_in_a_fixed_order():
    with pytest.raises(Conflict) as excinfo:
        check_close_requirements(CloseEvidence(0, 0, 0), "field", True, DEFAULT_CHECKLIST,
                                 {"power_isolated": True})
    assert excinfo.value.code == "CLOSE_REQUIREMENTS_UNMET" and excinfo.value.status == 409
    assert excinfo.value.extra["missing"] == [
        "CHECKED_OUT_VISIT", "AFTER_PHOTO", "SIGNATURE", "CHECKLIST:ppe_worn",
        "CHECKLIST:area_cleaned", "CHECKLIST:customer_briefed"]
    assert set(excinfo.value.errors) == {"after_photo", "visit", "signature", "checklist"}
    assert excinfo.value.errors["checklist"] == [
        "Answer the checklist item ppe_worn.", "Answer the checklist item area_cleaned.",
        "Answer the checklist item customer_briefed."]


# --- repeat repairs -----------------------------------------------------------------------

CLOSED = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("reported_at, ok", [
    (CLOSED - SECOND, False), (CLOSED, False), (CLOSED + SECOND, True),
    (CLOSED + REPEAT_WINDOW - SECOND, True), (CLOSED + REPEAT_WINDOW, True),
    (CLOSED + REPEAT_WINDOW + SECOND, False),
])
def test_the_repeat_window_is_after_the_close_and_at_most_30_days(reported_at, ok):
    assert REPEAT_WINDOW == timedelta(days=30)
    assert within_repeat_window(reported_at, CLOSED) is ok


@pytest.mark.parametrize("mine, theirs, same", [
    (("AC-1", "hvac"), ("AC-1", "hvac"), True),
    (("AC-1", "hvac"), ("AC-1", "plumbing"), True),   # the asset decides when both have one
    (("AC-1", "hvac"), ("AC-2", "hvac"), False),
    ((None, "hvac"), ("AC-2", "hvac"), True),         # either without one: the category
    (("AC-1", "hvac"), (None, "hvac"), True),
    ((None, "hvac"), (None, "hvac"), True),
    ((None, "hvac"), (None, "plumbing"), False),
    (("AC-1", "hvac"), (None, "plumbing"), False),
])
def test_the_same_subject_is_the_same_asset_or_else_the_same_category(mine, theirs, same):
    assert same_subject(*mine, *theirs) is same


def test_the_latest_closed_match_is_the_one_repeated():
    earlier = [
        ClosedJob(1, None, "hvac", CLOSED - timedelta(days=5)),
        ClosedJob(2, None, "hvac", CLOSED),
        ClosedJob(3, None, "hvac", CLOSED - timedelta(days=1)),
        ClosedJob(4, None, "plumbing", CLOSED + timedelta(days=1)),  # another subject
    ]
    assert repeat_of(None, "hvac", CLOSED + timedelta(days=2), earlier) == 2


def test_a_tie_on_closed_at_goes_to_the_newer_job():
    earlier = [ClosedJob(7, None, "hvac", CLOSED), ClosedJob(5, None, "hvac", CLOSED)]
    assert repeat_of(None, "hvac", CLOSED + SECOND, earlier) == 7


def test_no_match_no_repeat():
    assert repeat_of("AC-1", "hvac", CLOSED + SECOND, []) is None
    assert repeat_of("AC-1", "hvac", CLOSED + SECOND, [ClosedJob(1, "AC-2", "hvac", CLOSED)]) is None
    assert repeat_of("AC-1", "hvac", CLOSED + REPEAT_WINDOW + SECOND,
                     [ClosedJob(1, "AC-1", "hvac", CLOSED)]) is None


@pytest.mark.parametrize("target, problem", [
    ((9, 1, "closed", CLOSED), None),
    ((5, 1, "closed", CLOSED), "A job cannot repeat itself."),
    ((9, 2, "closed", CLOSED), "The earlier job must be at the same site."),
    ((9, 1, "in_progress", None), "The earlier job must be closed."),
    ((9, 1, "cancelled", None), "The earlier job must be closed."),
    ((9, 1, "closed", CLOSED + timedelta(days=1)),
     "The earlier job must have been closed before this job was reported."),
    ((9, 1, "closed", CLOSED + timedelta(days=1) - SECOND), None),
])
def test_a_repeat_chosen_by_hand_is_an_earlier_closed_job_of_the_site(target, problem):
    assert repeat_target_error(5, 1, CLOSED + timedelta(days=1), *target) == problem
