"""The shared schema pieces: times with offsets, comma lists, paging."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from marshmallow import ValidationError, fields

from app.api.common import CommaList, PageArgs, Schema, UtcDateTime


class TimeSchema(Schema):
    at = UtcDateTime(required=True)


class StatusArgs(PageArgs):
    status = CommaList(("new", "closed"))


@pytest.mark.parametrize("text, expected", [
    ("2026-11-03T08:15:00Z", datetime(2026, 11, 3, 8, 15, tzinfo=UTC)),
    ("2026-11-03T16:15:00+08:00", datetime(2026, 11, 3, 8, 15, tzinfo=UTC)),
    ("2026-11-03T03:15:00-05:00", datetime(2026, 11, 3, 8, 15, tzinfo=UTC)),
    ("2026-11-03T08:15:00.250+00:00", datetime(2026, 11, 3, 8, 15, 0, 250000, tzinfo=UTC)),
])
def test_times_with_an_offset_are_read_as_utc(text, expected):
    value = TimeSchema().load({"at": text})["at"]
    assert value == expected and value.utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", ["2026-11-03T08:15:00", "2026-11-03 08:15", "2026-11-03",
                                  "yesterday", "", 1730000000, None])
def test_times_without_an_offset_or_malformed_are_refused(text):
    with pytest.raises(ValidationError) as info:
        TimeSchema().load({"at": text})
    assert "at" in info.value.messages


def test_times_are_written_in_utc_with_z():
    shanghai = timezone(timedelta(hours=8))
    out = TimeSchema().dump({"at": datetime(2026, 11, 3, 16, 15, tzinfo=shanghai)})
    assert out == {"at": "2026-11-03T08:15:00Z"}


@pytest.mark.parametrize("text, expected", [("new", ["new"]), ("new,closed", ["new", "closed"]),
                                            (" new , closed ", ["new", "closed"])])
def test_comma_lists(text, expected):
    assert StatusArgs().load({"status": text})["status"] == expected


@pytest.mark.parametrize("text", ["", ",", "open", "new,open"])
def test_comma_lists_refuse_unknown_values(text):
    with pytest.raises(ValidationError):
        StatusArgs().load({"status": text})


@pytest.mark.parametrize("args, ok", [({}, True), ({"per_page": "1"}, True), ({"per_page": "200"}, True),
                                      ({"per_page": "0"}, False), ({"per_page": "201"}, False),
                                      ({"page": "0"}, False), ({"page": "x"}, False)])
def test_paging_bounds(args, ok):
    if ok:
        loaded = StatusArgs().load(args)
        assert loaded["page"] >= 1 and 1 <= loaded["per_page"] <= 200
    else:
        with pytest.raises(ValidationError):
            StatusArgs().load(args)


def test_query_args_ignore_unknown_keys_but_bodies_refuse_them():
    assert StatusArgs().load({"_": "123"}) == {"page": 1, "per_page": 50}
    with pytest.raises(ValidationError) as info:
        TimeSchema().load({"at": "2026-11-03T08:15:00Z", "role": "admin"})
    assert info.value.messages == {"role": ["Unknown field."]}
    assert isinstance(TimeSchema._declared_fields["at"], fields.DateTime)
