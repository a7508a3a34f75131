"""Ticket intake from service desks, as pure functions.

A delivery to the webhook is signed: HMAC-SHA256 with the source's secret over
`timestamp + "." + raw body`, sent as `X-FieldProof-Signature: sha256=<hex>` beside
`X-FieldProof-Timestamp: <Unix seconds>`. A timestamp further than the tolerance from
the server's clock is refused, so a captured delivery cannot be replayed later.

A source's field mapping says where each job field is found in its payload: a JSON
Pointer (RFC 6901, `/ticket/id`) or a constant, an optional value map (the desk's
priority `1` is our `urgent`; its location code is our site 12) and a default.

A CSV row of the jobs import is checked here cell by cell; each refusal has a stable
reason code and names the column, never the cell's content (which may be a formula).
"""
from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.domain.errors import DomainError

SIGNATURE_HEADER = "X-FieldProof-Signature"
TIMESTAMP_HEADER = "X-FieldProof-Timestamp"
SIGNATURE_SCHEME = "sha256="
SOURCE_KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}\Z")
# The source of jobs imported from a CSV file that names no intake source.
CSV_SOURCE = "csv"

PRIORITIES = ("low", "normal", "high", "urgent")
WORK_TYPES = ("field", "remote")
TITLE_MAX, DESCRIPTION_MAX, ASSET_REF_MAX, EXTERNAL_ID_MAX = 200, 5000, 100, 100


class IntakeRefused(DomainError):
    """A delivery the webhook refuses; its code is recorded in the deliveries log."""

    def __init__(self, status: int, code: str, detail: str,
                 errors: dict[str, Any] | None = None) -> None:
        super().__init__(detail, code=code, status=status, errors=errors)


# --- Signatures ----------------------------------------------------------------------

def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value for this body at this timestamp."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return SIGNATURE_SCHEME + mac.hexdigest()


def check_signature(secrets: Sequence[str], timestamp: str | None, signature: str | None,
                    body: bytes, now: datetime, tolerance_s: int) -> None:
    """Refuse a delivery that is unsigned, signed with none of `secrets`, or signed at a
    time further than `tolerance_s` from `now` (either way: a clock ahead is as
    suspicious as a replay). Every secret is compared, in constant time."""
    if not timestamp or not signature:
        raise IntakeRefused(401, "SIGNATURE_MISSING",
                            f"Send {SIGNATURE_HEADER} and {TIMESTAMP_HEADER}.")
    timestamp = timestamp.strip()
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise IntakeRefused(401, "TIMESTAMP_INVALID",
                            f"{TIMESTAMP_HEADER} must be the signing time in Unix seconds.")
    given = signature.strip().encode()
    matches = [hmac.compare_digest(given, sign(secret, timestamp, body).encode())
               for secret in secrets]
    if not any(matches):
        raise IntakeRefused(401, "SIGNATURE_INVALID",
                            "The signature does not match the body and the source's secret.")
    if abs(now.timestamp() - int(timestamp)) > tolerance_s:
        raise IntakeRefused(401, "TIMESTAMP_STALE",
                            f"The delivery was signed more than {tolerance_s} s from the "
                            "server's time; a delivery cannot be replayed later.")


# --- Field mappings ------------------------------------------------------------------

MAPPED_FIELDS = ("external_id", "title", "description", "priority", "category", "site",
                 "reported_at", "scheduled_for", "asset_ref")
REQUIRED_FIELDS = ("external_id", "title", "priority", "category", "site")
RULE_KEYS = frozenset({"path", "value", "map", "default", "timezone"})
_MISSING = object()


def _rule(raw: Any) -> dict[str, Any]:
    """A rule as stored: a bare pointer string is short for {"path": pointer}."""
    return {"path": raw} if isinstance(raw, str) else dict(raw)


def mapping_errors(mapping: Mapping[str, Any], sites: Iterable[int] | None = None) -> dict[str, list[str]]:
    """What is wrong with a field mapping (empty: nothing). `sites`, when given, are the
    site ids that exist, so that a site map naming another is refused."""
    errors: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    for name in mapping:
        if name not in MAPPED_FIELDS:
            add(name, f"Not a mapped field; use {', '.join(MAPPED_FIELDS)}.")
    for name in REQUIRED_FIELDS:
        if name not in mapping:
            add(name, "Required: a path, a value or a default.")
    known_sites = None if sites is None else set(sites)
    for name, raw in mapping.items():
        if name not in MAPPED_FIELDS:
            continue
        if not isinstance(raw, (str, dict)):
            add(name, "Give a JSON Pointer or an object with path, value, map, default.")
            continue
        rule = _rule(raw)
        unknown = set(rule) - RULE_KEYS
        if unknown:
            add(name, f"Unknown keys: {', '.join(sorted(unknown))}.")
        if ("path" in rule) == ("value" in rule) and "default" not in rule:
            add(name, "Give exactly one of path and value (or a default).")
        if "path" in rule and "value" in rule:
            add(name, "Give path or value, not both.")
        path = rule.get("path")
        if "path" in rule and not (isinstance(path, str) and (path == "" or path.startswith("/"))
                                   and len(path) <= 200):
            add(name, "path must be a JSON Pointer such as /ticket/id.")
        table = rule.get("map")
        if table is not None and not (isinstance(table, dict) and len(table) <= 1000):
            add(name, "map must be an object of at most 1000 entries.")
            table = None
        if "timezone" in rule:
            if name != "reported_at":
                add(name, "Only reported_at takes a timezone.")
            elif not _zone(rule["timezone"]):
                add(name, "timezone must be an IANA name such as Asia/Shanghai.")
        outcomes = list((table or {}).values())
        for key in ("value", "default"):
            if key in rule:
                outcomes.append(rule[key])
        for outcome in outcomes:
            problem = _outcome_problem(name, outcome, table is not None, known_sites)
            if problem:
                add(name, problem)
                break
    return errors


def _outcome_problem(name: str, value: Any, mapped: bool, sites: set[int] | None) -> str | None:
    """Why `value` cannot be what the rule of field `name` yields (None: it can)."""
    if name == "priority" and value not in PRIORITIES:
        return f"priority values must be among {', '.join(PRIORITIES)}."
    if name == "site" and (mapped or not isinstance(value, str)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            return "site values must be site ids."
        if sites is not None and value not in sites:
            return "site values must name existing sites."
    if name in ("title", "category", "external_id") and not isinstance(value, str):
        return f"{name} values must be text."
    return None


def _zone(name: Any) -> ZoneInfo | None:
    if not isinstance(name, str) or not name or len(name) > 64:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def resolve_pointer(document: Any, pointer: str) -> Any:
    """The value at a JSON Pointer (RFC 6901) in `document`, or _MISSING."""
    if pointer == "":
        return document
    node = document
    for token in pointer[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return _MISSING
    return node


@dataclass
class MappedTicket:
    """The job fields a payload gave, ready for the site and category to be looked up."""

    external_id: str
    title: str
    priority: str
    category: str
    site_id: int
    description: str | None = None
    asset_ref: str | None = None
    reported_at: datetime | None = None
    scheduled_for: date | None = None


def _text(value: Any) -> str | None:
    """A scalar as text (a desk's numeric ticket id is text to us); None for nothing."""
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip()
    return text or None


def _cut(text: str | None, limit: int) -> str | None:
    """Long text from a desk is cut, not refused: a ticket must not bounce for its length."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def map_ticket(payload: Any, mapping: Mapping[str, Any], now: datetime,
               clock_ahead_tolerance_s: int) -> MappedTicket:
    """The job fields of a delivery by its source's mapping; MAPPING_FAILED (422) naming
    every field that could not be mapped. The site is a site id, given by the payload or
    by the rule's map from the desk's location codes; the caller checks that it exists."""
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    for name in MAPPED_FIELDS:
        if name not in mapping:
            continue
        rule = _rule(mapping[name])
        value = resolve_pointer(payload, rule["path"]) if "path" in rule else rule.get("value", _MISSING)
        if value is None or value == "" or value is _MISSING:
            value = _MISSING
        if value is not _MISSING and "map" in rule:
            key = _text(value)
            value = rule["map"].get(key, _MISSING) if key is not None else _MISSING
            if value is _MISSING and "default" not in rule:
                errors.setdefault(name, []).append("The value is not in this field's map.")
                continue
        if value is _MISSING:
            value = rule.get("default", _MISSING)
        if value is _MISSING:
            if name in REQUIRED_FIELDS:
                where = f"at {rule['path']}" if "path" in rule else "given"
                errors.setdefault(name, []).append(f"No value {where}.")
            continue
        try:
            values[name] = _convert(name, value, rule, now, clock_ahead_tolerance_s)
        except ValueError as exc:
            errors.setdefault(name, []).append(str(exc))
    if errors:
        raise IntakeRefused(422, "MAPPING_FAILED",
                            "The payload could not be mapped to a job: "
                            + ", ".join(sorted(errors)) + ".", {"mapping": errors})
    values["site_id"] = values.pop("site")
    return MappedTicket(**values)


def _convert(name: str, value: Any, rule: Mapping[str, Any], now: datetime,
             tolerance_s: int) -> Any:
    if name == "reported_at":
        at = parse_time(value, _zone(rule.get("timezone")))
        if at > now + timedelta(seconds=tolerance_s):
            raise ValueError("reported_at may not lie in the future.")
        return at
    if name == "scheduled_for":
        return parse_date(value)
    if name == "site":
        if isinstance(value, int) and not isinstance(value, bool):
            if not 0 < value < 2**31:
                raise ValueError("Not a site id.")
            return value
        text = _text(value)
        if text is None or not (text.isascii() and text.isdigit()) or not 0 < int(text) < 2**31:
            raise ValueError("Not a site id; map the desk's location codes to site ids.")
        return int(text)
    text = _text(value)
    if text is None:
        raise ValueError("Not a text value.")
    text = text.replace("\x00", "")  # no database column can hold a NUL
    if name == "priority":
        if text not in PRIORITIES:
            raise ValueError(f"Must be one of {', '.join(PRIORITIES)}; add a map.")
        return text
    if name == "external_id":
        if len(text) > EXTERNAL_ID_MAX:
            raise ValueError(f"At most {EXTERNAL_ID_MAX} characters.")
        return text
    limits = {"title": TITLE_MAX, "description": DESCRIPTION_MAX, "asset_ref": ASSET_REF_MAX,
              "category": 40}
    return _cut(text, limits[name])


def parse_time(value: Any, zone: ZoneInfo | None = None) -> datetime:
    """An ISO 8601 time (or ServiceNow's `2026-12-01 08:00:00`), or Unix seconds. A time
    without an offset is read in `zone`, and refused when there is none."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError("Not a time.") from None
    text = _text(value)
    if text is None or len(text) > 40:
        raise ValueError("Not a time.")
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise ValueError("Not an ISO 8601 time.") from None
    if at.tzinfo is None:
        if zone is None:
            raise ValueError("The time has no offset; give one, or a timezone in the mapping.")
        at = at.replace(tzinfo=zone)
    return at.astimezone(UTC)


def parse_date(value: Any) -> date:
    text = _text(value)
    try:
        if text is None:
            raise ValueError
        return date.fromisoformat(text[:10]) if len(text) > 10 and text[10] in "T " else date.fromisoformat(text)
    except ValueError:
        raise ValueError("Not a date (YYYY-MM-DD).") from None


# --- The CSV import of jobs ----------------------------------------------------------

IMPORT_COLUMNS = ("external_id", "site_id", "title", "description", "category", "priority",
                  "mode", "asset_ref", "reported_at", "scheduled_for", "engineer_id")
IMPORT_REQUIRED_COLUMNS = ("site_id", "title", "category", "priority")
MAX_IMPORT_ROWS = 10_000

# Reason codes of a refused row.
MISSING_FIELD = "MISSING_FIELD"
BAD_VALUE = "BAD_VALUE"
BAD_TIME = "BAD_TIME"
TOO_MANY_VALUES = "TOO_MANY_VALUES"
UNKNOWN_SITE = "UNKNOWN_SITE"
UNKNOWN_CATEGORY = "UNKNOWN_CATEGORY"
ENGINEER_OUT_OF_SCOPE = "ENGINEER_OUT_OF_SCOPE"
DUPLICATE_IN_FILE = "DUPLICATE_IN_FILE"
ALREADY_IMPORTED = "ALREADY_IMPORTED"


@dataclass(frozen=True)
class Reason:
    code: str
    column: str | None
    detail: str


@dataclass
class ImportRow:
    """One data row of the file: its first line, its values as the jobs table takes
    them, and the reasons it is refused (none: it is accepted)."""

    line: int
    values: dict[str, Any]
    reasons: list[Reason] = field(default_factory=list)


def import_header_errors(header: Sequence[str]) -> list[str]:
    """The header names each required column, no unknown one, none twice (any order)."""
    messages = [f"Missing column: {name}." for name in IMPORT_REQUIRED_COLUMNS if name not in header]
    messages += [f"Unknown column: {name[:40]}." for name in header if name not in IMPORT_COLUMNS]
    messages += [f"Duplicate column: {name}." for name in IMPORT_COLUMNS if header.count(name) > 1]
    return messages


def read_import_row(line: int, header: Sequence[str], cells: Sequence[str], now: datetime,
                    clock_ahead_tolerance_s: int) -> ImportRow:
    """A row's cells checked on their own (the references are checked by the caller)."""
    row = ImportRow(line, {})
    if len(cells) > len(header):
        row.reasons.append(Reason(TOO_MANY_VALUES, None, "More values than columns."))
        return row
    cell = dict(zip(header, cells))
    refuse = row.reasons.append
    for name in IMPORT_REQUIRED_COLUMNS:
        if not cell.get(name):
            refuse(Reason(MISSING_FIELD, name, f"{name} is required."))
    for name, value in cell.items():
        if "\x00" in value:
            refuse(Reason(BAD_VALUE, name, "Contains a NUL character."))
            cell[name] = ""
    for name, limit in (("title", TITLE_MAX), ("description", DESCRIPTION_MAX),
                        ("asset_ref", ASSET_REF_MAX), ("external_id", EXTERNAL_ID_MAX),
                        ("category", 40)):
        if len(cell.get(name, "")) > limit:
            refuse(Reason(BAD_VALUE, name, f"At most {limit} characters."))
    values = row.values
    for name in ("title", "category", "external_id"):
        values[name] = cell.get(name) or None
    values["description"] = cell.get("description") or None
    values["asset_ref"] = cell.get("asset_ref") or None
    for name in ("site_id", "engineer_id"):
        text = cell.get(name, "")
        if text and not (text.isascii() and text.isdigit() and 0 < int(text) < 2**31):
            refuse(Reason(BAD_VALUE, name, "Must be an id (a whole number)."))
        values[name] = int(text) if text.isascii() and text.isdigit() and 0 < int(text) < 2**31 else None
    priority = cell.get("priority", "")
    if priority and priority not in PRIORITIES:
        refuse(Reason(BAD_VALUE, "priority", f"Must be one of {', '.join(PRIORITIES)}."))
    values["priority"] = priority or None
    mode = cell.get("mode") or "field"
    if mode not in WORK_TYPES:
        refuse(Reason(BAD_VALUE, "mode", f"Must be one of {', '.join(WORK_TYPES)}."))
    values["mode"] = mode
    values["reported_at"] = now
    if cell.get("reported_at"):
        try:
            at = parse_time(cell["reported_at"])
        except ValueError:
            refuse(Reason(BAD_TIME, "reported_at", "Must be an ISO 8601 time with an offset."))
        else:
            if at > now + timedelta(seconds=clock_ahead_tolerance_s):
                refuse(Reason(BAD_TIME, "reported_at", "May not lie in the future."))
            values["reported_at"] = at
    values["scheduled_for"] = None
    if cell.get("scheduled_for"):
        try:
            values["scheduled_for"] = date.fromisoformat(cell["scheduled_for"])
        except ValueError:
            refuse(Reason(BAD_TIME, "scheduled_for", "Must be a date (YYYY-MM-DD)."))
    return row
