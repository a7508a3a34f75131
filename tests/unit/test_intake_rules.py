"""The intake rules without the app: signatures, JSON Pointers, mappings, CSV rows."""
from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.domain import intake as rules
from app.domain.intake import IntakeRefused

NOW = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
T = str(int(NOW.timestamp()))


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body():
    expected = hmac.new(b"s3cret", f"{T}.".encode() + b'{"a":1}', hashlib.sha256).hexdigest()
    assert rules.sign("s3cret", T, b'{"a":1}') == "sha256=" + expected


@pytest.mark.parametrize("timestamp, signature, body, code", [
    (None, "x", b"{}", "SIGNATURE_MISSING"),
    (T, "", b"{}", "SIGNATURE_MISSING"),
    ("12:00", "x", b"{}", "TIMESTAMP_INVALID"),
    ("١٢٣", "x", b"{}", "TIMESTAMP_INVALID"),  # digits, but not ASCII ones
    (T, rules.sign("other", T, b"{}"), b"{}", "SIGNATURE_INVALID"),
    (T, rules.sign("s3cret", T, b"{}"), b"{ }", "SIGNATURE_INVALID"),
    (str(int(NOW.timestamp()) - 301), rules.sign("s3cret", str(int(NOW.timestamp()) - 301), b"{}"),
     b"{}", "TIMESTAMP_STALE"),
    (str(int(NOW.timestamp()) + 301), rules.sign("s3cret", str(int(NOW.timestamp()) + 301), b"{}"),
     b"{}", "TIMESTAMP_STALE"),
])
def test_bad_signatures_are_refused_with_their_code(timestamp, signature, body, code):
    with pytest.raises(IntakeRefused) as refused:
        rules.check_signature(["s3cret"], timestamp, signature, body, NOW, 300)
    assert refused.value.code == code and refused.value.status == 401


def test_any_accepted_secret_signs_and_the_tolerance_is_inclusive():
    at = str(int(NOW.timestamp()) - 300)
    rules.check_signature(["old", "s3cret"], at, rules.sign("s3cret", at, b"{}"), b"{}", NOW, 300)
    rules.check_signature(["old", "s3cret"], at, rules.sign("old", at, b"{}"), b"{}", NOW, 300)


def test_json_pointers_follow_rfc_6901():
    doc = {"a/b": {"m~n": [10, {"x": 0}]}, "": 1}
    assert rules.resolve_pointer(doc, "/a~1b/m~0n/1/x") == 0
    assert rules.resolve_pointer(doc, "/") == 1
    assert rules.resolve_pointer(doc, "") is doc
    assert rules.resolve_pointer(doc, "/a~1b/m~0n/2") is rules._MISSING
    assert rules.resolve_pointer([1], "/-") is rules._MISSING


MAPPING = {
    "external_id": "/id", "title": "/t", "priority": {"path": "/p", "map": {"1": "urgent"}},
    "category": {"value": "hvac"}, "site": {"path": "/loc", "map": {"A": 7}, "default": 8},
    "reported_at": {"path": "/at", "timezone": "Asia/Shanghai"},
}


def test_a_ticket_is_mapped_with_maps_defaults_constants_and_timezones():
    ticket = rules.map_ticket({"id": 42, "t": " Leak ", "p": 1, "loc": "Z", "at": "2026-12-01 08:00:00"},
                              MAPPING, NOW, 300)
    assert (ticket.external_id, ticket.title, ticket.priority, ticket.category, ticket.site_id) == (
        "42", "Leak", "urgent", "hvac", 8)
    assert ticket.reported_at == datetime(2026, 12, 1, 0, 0, tzinfo=UTC)


def test_every_field_that_cannot_be_mapped_is_named():
    with pytest.raises(IntakeRefused) as refused:
        rules.map_ticket({"id": {"nested": 1}, "p": "9", "at": "soon"}, MAPPING, NOW, 300)
    assert refused.value.code == "MAPPING_FAILED" and refused.value.status == 422
    assert sorted(refused.value.errors["mapping"]) == ["external_id", "priority", "reported_at", "title"]


@pytest.mark.parametrize("value, zone, expected", [
    ("2026-12-01T08:00:00Z", None, datetime(2026, 12, 1, 8, tzinfo=UTC)),
    ("2026-12-01T16:00:00+08:00", None, datetime(2026, 12, 1, 8, tzinfo=UTC)),
    (1764576000, None, datetime(2025, 12, 1, 8, tzinfo=UTC)),
    ("2026-12-01 16:00:00", ZoneInfo("Asia/Shanghai"), datetime(2026, 12, 1, 8, tzinfo=UTC)),
])
def test_times_are_read_with_an_offset_or_a_stated_zone(value, zone, expected):
    assert rules.parse_time(value, zone) == expected


@pytest.mark.parametrize("value", ["2026-12-01 16:00:00", "yesterday", True, 10**20, "9" * 50])
def test_times_without_an_offset_or_unreadable_are_refused(value):
    with pytest.raises(ValueError):
        rules.parse_time(value)


def test_a_mapping_is_checked_before_it_is_stored():
    assert rules.mapping_errors(MAPPING, sites=[7, 8]) == {}
    errors = rules.mapping_errors(MAPPING, sites=[7])
    assert errors == {"site": ["site values must name existing sites."]}
    errors = rules.mapping_errors({"title": 5, "extra": "/x"})
    assert set(errors) == {"title", "extra", "external_id", "priority", "category", "site"}


HEADER = list(rules.IMPORT_COLUMNS)


def row(**cells):
    values = {name: "" for name in HEADER} | {"site_id": "1", "title": "T", "category": "hvac",
                                              "priority": "normal"} | cells
    return rules.read_import_row(2, HEADER, [values[name] for name in HEADER], NOW, 300)


def test_a_good_row_gives_the_jobs_values():
    good = row(external_id="X-1", reported_at="2026-12-01T08:00:00+08:00", scheduled_for="2026-12-05",
               engineer_id="9")
    assert good.reasons == []
    assert good.values["reported_at"] == datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    assert (good.values["site_id"], good.values["engineer_id"], good.values["mode"]) == (1, 9, "field")


@pytest.mark.parametrize("cells, code, column", [
    ({"title": ""}, "MISSING_FIELD", "title"),
    ({"priority": "p1"}, "BAD_VALUE", "priority"),
    ({"mode": "onsite"}, "BAD_VALUE", "mode"),
    ({"site_id": "1.5"}, "BAD_VALUE", "site_id"),
    ({"engineer_id": "99999999999"}, "BAD_VALUE", "engineer_id"),
    ({"title": "x" * 201}, "BAD_VALUE", "title"),
    ({"description": "a\x00b"}, "BAD_VALUE", "description"),
    ({"reported_at": "2026-12-01"}, "BAD_TIME", "reported_at"),
    ({"reported_at": (NOW + timedelta(minutes=6)).isoformat()}, "BAD_TIME", "reported_at"),
    ({"scheduled_for": "tomorrow"}, "BAD_TIME", "scheduled_for"),
])
def test_each_bad_cell_has_its_reason_code_and_column(cells, code, column):
    assert [(r.code, r.column) for r in row(**cells).reasons] == [(code, column)]


def test_reasons_never_carry_the_cells_content():
    bad = row(title="=cmd|' /C calc'!A0" + "x" * 300, priority="=1+1")
    assert all("cmd" not in r.detail and "=1+1" not in r.detail for r in bad.reasons)
