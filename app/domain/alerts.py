"""Early-warning rules (kpi.md, "Early warnings"), in plain Python.

- Watch-list matching: case-insensitive after Unicode NFKC and case folding, so that
  full-width ＡＢＣ and １２３１５ match too. Terms in a script written with spaces
  (Latin, Cyrillic, Greek…) match whole words only (`rude` is not found in `prudent`),
  and a term of several words matches across any run of white space. Terms in a script
  written without spaces (Chinese, Japanese, Korean, Thai) match anywhere in the text,
  also with spaces between their characters (`又 坏 了`). A term of digits only (12315)
  matches a whole number: not inside a longer one (123156), whatever letters are next to it.
- The first-contact SLA: a job assigned at `assigned_at` is overdue once
  `assigned_at + SLA_CONTACT_MINUTES_<PRIORITY>` has passed (strictly after that instant)
  while it is open (assigned, in progress) and has no first contact.
- The flag pattern: at least FLAG_PATTERN_COUNT of an engineer's visits flagged or
  rejected at a time in [now − FLAG_PATTERN_DAYS, now]; at most one alert per engineer
  within any FLAG_PATTERN_DAYS, and its deduplication key names the fixed
  FLAG_PATTERN_DAYS-long bucket (counted from 2000-01-03, a Monday, UTC) holding `now`.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal

DEFAULT_WATCH_LIST: tuple[str, ...] = (
    "投诉", "差评", "态度差", "又坏了", "还是不行", "退款", "曝光", "12315",
    "complaint", "refund", "rude", "broken again",
)
MAX_TERMS = 200
MAX_TERM_LENGTH = 50

# A customer score of 0–6 is a detractor in NPS terms: an early warning.
NEGATIVE_SCORE_MAX = 6

PRIORITIES = ("low", "normal", "high", "urgent")
OPEN_JOB_STATUSES = ("assigned", "in_progress")
# Visits that count toward a flag pattern, by their current status: waiting for a
# supervisor, rejected as a false report, or rejected and contested.
FLAG_PATTERN_STATUSES = ("flagged", "rejected", "disputed")
FLAG_BUCKET_EPOCH = datetime(2000, 1, 3, tzinfo=UTC)

TermKind = Literal["anywhere", "number", "word"]

# Scripts written without spaces between words: a term in them matches anywhere.
_UNSEGMENTED_RANGES = (
    (0x0E00, 0x0EFF),    # Thai, Lao
    (0x1000, 0x109F),    # Myanmar
    (0x1100, 0x11FF),    # Hangul Jamo
    (0x1780, 0x17FF),    # Khmer
    (0x2E80, 0x2FDF),    # CJK radicals, Kangxi radicals
    (0x3040, 0x31FF),    # Hiragana, Katakana, Bopomofo, Hangul compatibility Jamo
    (0x3400, 0x4DBF),    # CJK extension A
    (0x4E00, 0x9FFF),    # CJK unified ideographs
    (0xA960, 0xA97F),    # Hangul Jamo extended A
    (0xAC00, 0xD7FF),    # Hangul syllables, Jamo extended B
    (0xF900, 0xFAFF),    # CJK compatibility ideographs
    (0x20000, 0x3134F),  # CJK extensions B–G
)
_UNSEGMENTED_CLASS = "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in _UNSEGMENTED_RANGES)
# A letter, digit or underscore of a script written with spaces: what may not touch a
# whole-word match on either side.
_WORD_CHAR = f"[^\\W{_UNSEGMENTED_CLASS}]"


def normalize(text: str) -> str:
    """NFKC (full-width → ASCII, compatibility forms folded) and Unicode case folding."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def clean_term(term: str) -> str:
    """A term as stored: without surrounding spaces, inner runs of spaces made one."""
    return " ".join(term.split())


def _unsegmented(char: str) -> bool:
    code = ord(char)
    return any(lo <= code <= hi for lo, hi in _UNSEGMENTED_RANGES)


def _word_char(char: str) -> bool:
    return (char.isalnum() or char == "_") and not _unsegmented(char)


def term_kind(term: str) -> TermKind:
    """How a term matches: anywhere (it has a character of an unsegmented script),
    as a whole number (digits only), or as whole words."""
    folded = normalize(clean_term(term))
    if any(_unsegmented(char) for char in folded):
        return "anywhere"
    if folded.isdigit():
        return "number"
    return "word"


def _edge_guard(char: str, kind: TermKind) -> str | None:
    """The class that may not touch a match at an edge ending in `char` (None: anything may)."""
    if kind == "number":
        return r"\d"
    if _word_char(char):
        return _WORD_CHAR
    return None


def term_pattern(term: str) -> re.Pattern[str]:
    """The compiled pattern that finds `term` in normalized text."""
    folded = normalize(clean_term(term))
    kind = term_kind(term)
    if kind == "anywhere":
        # Spaces inside Chinese text are typing noise: allow them between characters.
        body = r"\s*".join(re.escape(char) for char in folded.replace(" ", ""))
    else:
        body = r"\s+".join(re.escape(word) for word in folded.split(" "))
    before, after = _edge_guard(folded[0], kind), _edge_guard(folded[-1], kind)
    if before:
        body = f"(?<!{before}){body}"
    if after:
        body = f"{body}(?!{after})"
    return re.compile(body)


@lru_cache(maxsize=16)
def _compiled(terms: tuple[str, ...]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((term, term_pattern(term)) for term in terms if clean_term(term))


def match_terms(text: str | None, terms: Sequence[str]) -> list[str]:
    """The watch-list terms found in `text`, in the list's order, as the list spells them."""
    if not text:
        return []
    folded = normalize(text)
    return [term for term, pattern in _compiled(tuple(terms)) if pattern.search(folded)]


def watch_list_errors(terms: Sequence[str]) -> list[str]:
    """What is wrong with a replacement watch list (empty: nothing)."""
    errors: list[str] = []
    if not 1 <= len(terms) <= MAX_TERMS:
        errors.append(f"Give 1 to {MAX_TERMS} terms.")
    seen: dict[str, str] = {}
    for term in terms:
        cleaned = clean_term(term)
        if not cleaned:
            errors.append("A term may not be blank.")
            continue
        if len(cleaned) > MAX_TERM_LENGTH:
            errors.append(f"“{cleaned[:20]}…” is longer than {MAX_TERM_LENGTH} characters.")
        key = normalize(cleaned)
        if key in seen:
            errors.append(f"“{cleaned}” repeats “{seen[key]}”.")
        else:
            seen[key] = cleaned
    return errors


def is_negative_score(score: int) -> bool:
    return score <= NEGATIVE_SCORE_MAX


# --- first-contact SLA ---------------------------------------------------------------

def sla_limits(config: Mapping[str, Any]) -> dict[str, int]:
    """Minutes allowed for the first contact, by priority, from the settings."""
    return {p: int(config[f"SLA_CONTACT_MINUTES_{p.upper()}"]) for p in PRIORITIES}


def contact_due_at(assigned_at: datetime, priority: str, limits: Mapping[str, int]) -> datetime:
    return assigned_at + timedelta(minutes=limits[priority])


def contact_overdue(status: str, priority: str, assigned_at: datetime | None,
                    first_contact_at: datetime | None, now: datetime,
                    limits: Mapping[str, int]) -> bool:
    """An open job without a first contact whose limit has passed (strictly) by `now`."""
    if status not in OPEN_JOB_STATUSES or assigned_at is None or first_contact_at is not None:
        return False
    return now > contact_due_at(assigned_at, priority, limits)


def overdue_cutoffs(now: datetime, limits: Mapping[str, int]) -> dict[str, datetime]:
    """Per priority, the time an assignment must precede (strictly) to be overdue at `now`:
    the same test as `contact_overdue`, in a form a database index can use."""
    return {p: now - timedelta(minutes=minutes) for p, minutes in limits.items()}


# --- flag pattern --------------------------------------------------------------------

@dataclass(frozen=True)
class FlagWindow:
    """The counting window ending at `end`, both ends included."""

    start: datetime
    end: datetime

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment <= self.end


def flag_window(now: datetime, days: int) -> FlagWindow:
    return FlagWindow(now - timedelta(days=days), now)


def flag_pattern_reached(event_times: Iterable[datetime], now: datetime, days: int,
                         threshold: int) -> bool:
    window = flag_window(now, days)
    return sum(1 for moment in event_times if moment in window) >= threshold


def flag_alert_allowed(last_alert_at: datetime | None, now: datetime, days: int) -> bool:
    """At most one flag-pattern alert per engineer within any `days`."""
    return last_alert_at is None or now - last_alert_at >= timedelta(days=days)


def flag_bucket_start(now: datetime, days: int) -> datetime:
    """The start of the fixed `days`-long bucket holding `now`: the window part of the
    deduplication key, so that two raises racing in one bucket make one alert."""
    size = timedelta(days=days)
    return FLAG_BUCKET_EPOCH + ((now - FLAG_BUCKET_EPOCH) // size) * size


# --- deduplication keys and wording --------------------------------------------------

def dedupe_key(kind: str, subject: str, subject_id: int, window: datetime | None = None) -> str:
    """`KIND:subject:id`, plus the window's start date for per-window alerts."""
    key = f"{kind}:{subject}:{subject_id}"
    return f"{key}:{window.date().isoformat()}" if window is not None else key


def excerpt(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# --- what an alert says --------------------------------------------------------------
#
# Every alert keeps the figures its reason is worded from (`params`), so that the app
# words it in the user's language from `kind`; the English sentence below (the alert's
# `detail`, as the first release wrote it) is worded from the same figures.
#
# NEGATIVE_FEEDBACK  {job_id, feedback_id, score, comment}        comment: excerpt or null
# KEYWORD            {source, job_id, feedback_id?, terms, excerpt}
#                    source: feedback | job_description | job_resolution
# SLA_RISK           {job_id, priority, limit_minutes, due_at}    due_at: ISO 8601, UTC
# FLAG_PATTERN       {count, days, until, visit_ids}              until: the date, UTC

KEYWORD_SOURCES = {"feedback": "feedback", "job-description": "job_description",
                   "job-resolution": "job_resolution"}


def negative_feedback_params(job_id: int, feedback_id: int, score: int,
                             comment: str | None) -> dict[str, Any]:
    return {"job_id": job_id, "feedback_id": feedback_id, "score": score,
            "comment": excerpt(comment) if comment else None}


def keyword_params(source: str, job_id: int, terms: Sequence[str], text: str | None,
                   feedback_id: int | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"source": source, "job_id": job_id}
    if feedback_id is not None:
        params["feedback_id"] = feedback_id
    return {**params, "terms": list(terms), "excerpt": excerpt(text or "")}


def sla_risk_params(job_id: int, priority: str, limit_minutes: int,
                    due_at: datetime) -> dict[str, Any]:
    return {"job_id": job_id, "priority": priority, "limit_minutes": limit_minutes,
            "due_at": due_at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")}


def flag_pattern_params(visit_ids: Sequence[int], days: int, now: datetime) -> dict[str, Any]:
    return {"count": len(visit_ids), "days": days, "until": now.date().isoformat(),
            "visit_ids": list(visit_ids)}


def alert_reason(kind: str, params: Mapping[str, Any]) -> str:
    """The alert's English sentence, worded from its params."""
    if kind == "NEGATIVE_FEEDBACK":
        comment = params.get("comment")
        return (f"Customer scored job #{params['job_id']} {params['score']}/10"
                + (f": “{comment}”" if comment else "."))
    if kind == "KEYWORD":
        terms, quoted = ", ".join(params["terms"]), f"“{params['excerpt']}”"
        if params["source"] == "feedback":
            return f"Customer feedback on job #{params['job_id']} mentions {terms}: {quoted}"
        field = params["source"].removeprefix("job_")
        return f"The {field} of job #{params['job_id']} mentions {terms}: {quoted}"
    if kind == "SLA_RISK":
        due = datetime.fromisoformat(params["due_at"].replace("Z", "+00:00"))
        return (f"Job #{params['job_id']} ({params['priority']}) has had no first contact; its "
                f"{params['limit_minutes']}-minute limit passed at "
                f"{due.isoformat(timespec='minutes')}.")
    if kind == "FLAG_PATTERN":
        return (f"{params['count']} visits flagged or rejected in the {params['days']} days to "
                f"{params['until']}: " + ", ".join(f"#{i}" for i in params["visit_ids"]) + ".")
    raise ValueError(f"unknown alert kind {kind}")
