"""Months as UTC bounds in the organisation's time zone, and the export's cell guards
(pure: no app, no database)."""
from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from app.domain.errors import Invalid
from app.services.kpi import periods
from app.services.kpi.export import defuse, to_csv, to_xlsx


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "key", "start", "end"),
    [
        ("UTC", "2024-02", "2024-02-01 00:00", "2024-03-01 00:00"),  # leap February
        # UTC+8 all year: local midnight is 16:00 UTC the day before.
        ("Asia/Shanghai", "2024-03", "2024-02-29 16:00", "2024-03-31 16:00"),
        ("Asia/Shanghai", "2024-12", "2024-11-30 16:00", "2024-12-31 16:00"),  # year end
        # Berlin: CET (UTC+1) on 1 March, CEST (UTC+2) from 31 March 2024 and on 1 April.
        ("Europe/Berlin", "2024-03", "2024-02-29 23:00", "2024-03-31 22:00"),
        # New York: EST (UTC−5) on 1 November 2024, after the switch on the 3rd.
        ("America/New_York", "2024-11", "2024-11-01 04:00", "2024-12-01 05:00"),
    ],
)
def test_month_bounds_in_utc(zone, key, start, end):
    period = periods.parse(key, zone)
    assert (period.key, period.start, period.end) == (key, utc(start), utc(end))


def test_23_30_utc_on_the_last_day_is_next_month_in_shanghai():
    march = periods.parse("2024-03", "Asia/Shanghai")
    late = utc("2024-03-31 23:30")
    assert not march.start <= late < march.end
    assert periods.current("Asia/Shanghai", now=late).key == "2024-04"
    assert periods.current("UTC", now=late).key == "2024-03"


@pytest.mark.parametrize(
    ("key", "months", "expected"),
    [("2024-03", -1, "2024-02"), ("2024-01", -1, "2023-12"), ("2024-12", 1, "2025-01"),
     ("2024-03", -23, "2022-04"), ("2024-03", 0, "2024-03")],
)
def test_shift(key, months, expected):
    assert periods.shift(periods.parse(key, "UTC"), months, "UTC").key == expected


@pytest.mark.parametrize("text", ["2024-3", "2024-00", "2024-13", "24-03", "", "2024-03-01",
                                  "1969-12", "２０２４-03", "2024/03", "2024-03\n"])
def test_parse_refuses_anything_but_yyyy_mm(text):
    with pytest.raises(Invalid) as refused:
        periods.parse(text, "UTC")
    assert list(refused.value.errors) == ["period"]


def test_resolve_defaults_to_now_and_refuses_the_future():
    now = periods.current("UTC")
    assert periods.resolve(None, "UTC") == now
    assert periods.resolve(now.key, "UTC") == now
    with pytest.raises(Invalid):
        periods.resolve(periods.shift(now, 1, "UTC").key, "UTC")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"),
     ("\tx", "'\tx"), ("Ada", "Ada"), ("李雷", "李雷"), ("a=b", "a=b"), (-1.5, -1.5), (None, None)],
)
def test_defuse_quotes_text_a_spreadsheet_would_run(value, expected):
    assert defuse(value) == expected


def test_csv_has_a_byte_order_mark_empty_cells_for_none_and_lower_case_booleans():
    raw = to_csv(("name", "value", "bonus"), [{"name": "=cmd", "value": None, "bonus": True},
                                              {"name": "王芳", "value": 12.5, "bonus": False}])
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows == [["name", "value", "bonus"], ["'=cmd", "", "true"], ["王芳", "12.5", "false"]]


def test_xlsx_keeps_formula_like_text_as_text():
    from openpyxl import load_workbook

    raw = to_xlsx(("name", "value"), [{"name": "=HYPERLINK(\"x\")", "value": 3.5},
                                      {"name": "-2", "value": None}])
    sheet = load_workbook(io.BytesIO(raw)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows == [("name", "value"), ("=HYPERLINK(\"x\")", 3.5), ("-2", None)]
    assert sheet["A2"].data_type == "s" and sheet["A3"].data_type == "s"
