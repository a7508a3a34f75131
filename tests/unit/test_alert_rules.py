"""Early-warning rules (kpi.md, "Early warnings") without an app: watch-list matching,
the first-contact SLA, the flag-pattern window and its once-per-window rule."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.alerts import (
    DEFAULT_WATCH_LIST,
    alert_reason,
    clean_term,
    contact_due_at,
    contact_overdue,
    dedupe_key,
    excerpt,
    flag_alert_allowed,
    flag_bucket_start,
    flag_pattern_params,
    flag_pattern_reached,
    flag_window,
    is_negative_score,
    keyword_params,
    match_terms,
    negative_feedback_params,
    normalize,
    overdue_cutoffs,
    sla_limits,
    sla_risk_params,
    term_kind,
    watch_list_errors,
)

DEFAULTS = list(DEFAULT_WATCH_LIST)
NOW = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
CONFIG = {"SLA_CONTACT_MINUTES_URGENT": 30, "SLA_CONTACT_MINUTES_HIGH": 60,
          "SLA_CONTACT_MINUTES_NORMAL": 240, "SLA_CONTACT_MINUTES_LOW": 1440}
LIMITS = sla_limits(CONFIG)


def test_the_default_watch_list_is_the_one_of_the_spec():
    assert DEFAULTS == ["投诉", "差评", "态度差", "又坏了", "还是不行", "退款", "曝光", "12315",
                        "complaint", "refund", "rude", "broken again"]


# --- matching --------------------------------------------------------------------------

@pytest.mark.parametrize("text, found", [
    # Latin terms match whole words only, case-insensitively.
    ("The engineer was rude.", ["rude"]),
    ("RUDE!", ["rude"]),
    ("Rude", ["rude"]),
    ("a prudent engineer", []),
    ("rudeness", []),
    ("crude oil", []),
    ("rude_word", []),
    ("rude2", []),
    ("(rude)", ["rude"]),
    ("I want a refund, now", ["refund"]),
    ("refunded", []),
    ("complaints", []),
    ("File a COMPLAINT", ["complaint"]),
    # Several words: across one space or more, any white space, not glued.
    ("it is broken again", ["broken again"]),
    ("broken    again", ["broken again"]),
    ("broken\n\tagain", ["broken again"]),
    ("brokenagain", []),
    ("unbroken again", []),
    ("broken against", []),
    ("Broken Again.", ["broken again"]),
    # Chinese terms anywhere inside unsegmented text, spaces between characters allowed.
    ("投诉", ["投诉"]),
    ("客户说要投诉你们", ["投诉"]),
    ("空调又坏了，还是不行", ["又坏了", "还是不行"]),
    ("又 坏 了", ["又坏了"]),
    ("服务态度差劲", ["态度差"]),
    ("要求退款并曝光", ["退款", "曝光"]),
    ("投 诉", ["投诉"]),
    ("投资", []),
    # Latin terms next to Chinese characters are still whole words.
    ("工程师很rude态度差", ["态度差", "rude"]),
    ("prude客户", []),
    # Digits-only terms match whole numbers.
    ("我要打12315", ["12315"]),
    ("12315", ["12315"]),
    ("call 12315 now", ["12315"]),
    ("call12315", ["12315"]),
    ("123156", []),
    ("412315", []),
    ("tel: 12315.", ["12315"]),
    # Full-width forms (NFKC) and case.
    ("打１２３１５投诉", ["投诉", "12315"]),
    ("ＲＵＤＥ", ["rude"]),
    ("ｂｒｏｋｅｎ　ａｇａｉｎ", ["broken again"]),  # ideographic space between
    ("１２３１５６", []),
    ("", []),
    (None, []),
])
def test_default_watch_list_matching(text, found):
    assert match_terms(text, DEFAULTS) == found


def test_matched_terms_come_in_list_order_as_the_list_spells_them():
    terms = ["Broken Again", "ＲＵＤＥ", "投诉"]
    assert match_terms("投诉: rude and BROKEN AGAIN", terms) == ["Broken Again", "ＲＵＤＥ", "投诉"]


def test_case_folding_is_full_unicode():
    assert match_terms("STRASSE", ["straße"]) == ["straße"]
    assert match_terms("Грубый мастер", ["грубый"]) == ["грубый"]
    assert match_terms("негрубый", ["грубый"]) == []


def test_terms_with_punctuation_at_an_edge_and_mixed_terms():
    assert match_terms("we use c++ daily", ["c++"]) == ["c++"]
    assert match_terms("c++11", ["c++"]) == ["c++"]  # no word boundary is needed after a "+"
    assert match_terms("拨打12315热线", ["12315热线"]) == ["12315热线"]
    assert match_terms("x12315热线", ["12315热线"]) == []


@pytest.mark.parametrize("term, kind", [
    ("投诉", "anywhere"), ("12315热线", "anywhere"), ("クレーム", "anywhere"), ("환불", "anywhere"),
    ("12315", "number"), ("１２３１５", "number"),
    ("rude", "word"), ("broken again", "word"), ("c++", "word"), ("3m", "word"),
])
def test_term_kind(term, kind):
    assert term_kind(term) == kind


def test_normalize_and_clean_term():
    assert normalize("ＡＢＣ１２３") == "abc123"
    assert normalize("Straße") == "strasse"
    assert clean_term("  broken \t  again ") == "broken again"


# --- the watch list ----------------------------------------------------------------------

def test_a_valid_watch_list_has_no_errors():
    assert watch_list_errors(DEFAULTS) == []
    assert watch_list_errors(["x" * 50]) == []
    assert watch_list_errors([f"t{i}" for i in range(200)]) == []


@pytest.mark.parametrize("terms, fragment", [
    ([], "1 to 200"),
    ([f"t{i}" for i in range(201)], "1 to 200"),
    (["ok", "   "], "blank"),
    (["ok", ""], "blank"),
    (["x" * 51], "longer than 50"),
    (["rude", "RUDE"], "repeats"),
    (["rude", " rude "], "repeats"),
    (["１２３１５", "12315"], "repeats"),
    (["broken again", "broken   again"], "repeats"),
])
def test_watch_list_errors(terms, fragment):
    errors = watch_list_errors(terms)
    assert len(errors) == 1 and fragment in errors[0], errors


# --- negative feedback -----------------------------------------------------------------

@pytest.mark.parametrize("score, negative", [(0, True), (6, True), (7, False), (10, False)])
def test_negative_scores_are_0_to_6(score, negative):
    assert is_negative_score(score) is negative


# --- first-contact SLA -------------------------------------------------------------------

@pytest.mark.parametrize("priority, minutes", [("urgent", 30), ("high", 60), ("normal", 240), ("low", 1440)])
def test_sla_due_time_at_each_priority(priority, minutes):
    assigned = NOW - timedelta(minutes=minutes)
    assert LIMITS[priority] == minutes
    assert contact_due_at(assigned, priority, LIMITS) == NOW
    at = {"status": "assigned", "priority": priority, "assigned_at": assigned, "first_contact_at": None}
    # Due exactly now: not yet passed; a second later it has.
    assert not contact_overdue(**at, now=NOW - timedelta(seconds=1), limits=LIMITS)
    assert not contact_overdue(**at, now=NOW, limits=LIMITS)
    assert contact_overdue(**at, now=NOW + timedelta(seconds=1), limits=LIMITS)
    # The cutoff form used in SQL agrees: overdue ⇔ assigned_at < cutoff.
    for now in (NOW - timedelta(seconds=1), NOW, NOW + timedelta(seconds=1)):
        assert (assigned < overdue_cutoffs(now, LIMITS)[priority]) == contact_overdue(**at, now=now, limits=LIMITS)


@pytest.mark.parametrize("status, contacted, assigned, overdue", [
    ("assigned", False, True, True),
    ("in_progress", False, True, True),
    ("assigned", True, True, False),
    ("new", False, True, False),
    ("closed", False, True, False),
    ("cancelled", False, True, False),
    ("assigned", False, False, False),
])
def test_sla_applies_to_open_uncontacted_assigned_jobs(status, contacted, assigned, overdue):
    assigned_at = NOW - timedelta(days=2) if assigned else None
    first_contact = NOW - timedelta(days=1) if contacted else None
    assert contact_overdue(status, "low", assigned_at, first_contact, NOW, LIMITS) is overdue


def test_sla_limits_follow_the_settings():
    assert sla_limits({**CONFIG, "SLA_CONTACT_MINUTES_URGENT": "15"})["urgent"] == 15


# --- flag pattern --------------------------------------------------------------------------

def test_flag_window_includes_both_ends():
    window = flag_window(NOW, 14)
    assert NOW - timedelta(days=14) in window and NOW in window
    assert NOW - timedelta(days=14, seconds=1) not in window
    assert NOW + timedelta(seconds=1) not in window


@pytest.mark.parametrize("offsets_days, reached", [
    ([0, 1, 2], True),
    ([0, 7, 14], True),                  # the oldest exactly 14 days ago counts
    ([0, 7, 14.0001], False),            # just over 14 days ago does not
    ([0, 1], False),
    ([0, 1, -0.0001], False),            # a future time is outside the window
    ([1, 2, 3, 4], True),
])
def test_flag_pattern_needs_three_within_fourteen_days(offsets_days, reached):
    times = [NOW - timedelta(days=d) for d in offsets_days]
    assert flag_pattern_reached(times, NOW, 14, 3) is reached


def test_flag_alert_at_most_once_per_fourteen_days():
    assert flag_alert_allowed(None, NOW, 14)
    assert not flag_alert_allowed(NOW - timedelta(days=13, hours=23), NOW, 14)
    assert not flag_alert_allowed(NOW - timedelta(days=14) + timedelta(seconds=1), NOW, 14)
    assert flag_alert_allowed(NOW - timedelta(days=14), NOW, 14)


def test_flag_buckets_are_fixed_fourteen_day_windows():
    start = flag_bucket_start(NOW, 14)
    assert start <= NOW < start + timedelta(days=14)
    assert (start - datetime(2000, 1, 3, tzinfo=UTC)) % timedelta(days=14) == timedelta(0)
    assert flag_bucket_start(start, 14) == start
    assert flag_bucket_start(start + timedelta(days=14) - timedelta(microseconds=1), 14) == start
    assert flag_bucket_start(start + timedelta(days=14), 14) == start + timedelta(days=14)
    assert flag_bucket_start(start - timedelta(microseconds=1), 14) == start - timedelta(days=14)


def test_dedupe_keys_and_excerpts():
    assert dedupe_key("KEYWORD", "job-description", 7) == "KEYWORD:job-description:7"
    assert dedupe_key("FLAG_PATTERN", "engineer", 4, datetime(2026, 10, 26, tzinfo=UTC)) == \
        "FLAG_PATTERN:engineer:4:2026-10-26"
    assert excerpt("a  b\nc") == "a b c"
    assert excerpt("x" * 200, 10) == "x" * 9 + "…"


# --- params and the sentence worded from them ------------------------------------------

def test_each_kind_is_worded_from_its_params():
    assert alert_reason("NEGATIVE_FEEDBACK", negative_feedback_params(7, 3, 4, "  slow  and\nrude ")) == (
        "Customer scored job #7 4/10: “slow and rude”")
    assert alert_reason("KEYWORD", keyword_params("job_description", 7, ["rude", "投诉"], "x rude 投诉")) == (
        "The description of job #7 mentions rude, 投诉: “x rude 投诉”")
    due = datetime(2026, 11, 3, 8, 45, 59, tzinfo=UTC)
    params = sla_risk_params(7, "high", 60, due)
    assert params["due_at"] == "2026-11-03T08:45:59Z"
    assert alert_reason("SLA_RISK", params) == (
        "Job #7 (high) has had no first contact; its 60-minute limit passed at 2026-11-03T08:45+00:00.")
    params = flag_pattern_params([4, 9, 12], 14, datetime(2026, 11, 3, 23, 0, tzinfo=UTC))
    assert params == {"count": 3, "days": 14, "until": "2026-11-03", "visit_ids": [4, 9, 12]}
    assert alert_reason("FLAG_PATTERN", params) == (
        "3 visits flagged or rejected in the 14 days to 2026-11-03: #4, #9, #12.")


def test_an_unknown_kind_has_no_wording():
    with pytest.raises(ValueError):
        alert_reason("SOMETHING_ELSE", {})
