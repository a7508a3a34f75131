"""Column types shared by the models."""
from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


def utc_text(value: datetime | None) -> str | None:
    """A time as the API writes it: ISO 8601 in UTC, with `Z`."""
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


NAIVE = "naive datetime given to a UTCDateTime column"
# SQLAlchemy's SQLite DATETIME text, which UTCDateTime.bind_processor writes itself.
SQLITE_DATETIME_FORMAT = ("%(year)04d-%(month)02d-%(day)02d "
                          "%(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d")


class UTCDateTime(TypeDecorator):
    """An aware UTC datetime on every database.

    PostgreSQL stores `timestamptz`; SQLite has no time zones, so the value is stored
    as naive UTC and made aware again when read. A naive value is a programming error.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(NAIVE)
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def bind_processor(self, dialect):
        """On SQLite, process_bind_param and the DATETIME's text (its default storage
        format) in one step: the busiest writes bind a dozen times each."""
        if (dialect.name != "sqlite"
                or type(self).process_bind_param is not UTCDateTime.process_bind_param
                or getattr(self.impl_instance.dialect_impl(dialect), "_storage_format", None)
                != SQLITE_DATETIME_FORMAT):
            return super().bind_processor(dialect)

        def process(value: datetime | None, utc=UTC) -> str | None:
            if value is None:
                return None
            if value.tzinfo is not utc:
                if value.tzinfo is None:
                    raise ValueError(NAIVE)
                value = value.astimezone(utc)
            # The text is "YYYY-MM-DD HH:MM:SS.ffffff": isoformat's "+00:00" is cut off.
            return value.isoformat(" ", "microseconds")[:26]

        return process

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def enum(*values: str, name: str) -> sa.Enum:
    """A VARCHAR with a CHECK constraint: portable, and readable in a SQL shell."""
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


ROLES = ("engineer", "supervisor", "admin")
LEVELS = ("junior", "mid", "senior")
WORK_TYPES = ("field", "remote")
PRIORITIES = ("low", "normal", "high", "urgent")
JOB_STATUSES = ("new", "assigned", "in_progress", "closed", "cancelled")
VISIT_STATUSES = ("verified", "flagged", "approved", "rejected", "disputed")
PHOTO_KINDS = ("before", "after", "signature", "other")
KNOWLEDGE_KINDS = ("case", "document")
KNOWLEDGE_STATUSES = ("submitted", "approved", "rejected")
COMPLIANCE_KINDS = ("safety_incident", "process_violation")
SEVERITIES = ("low", "medium", "high")
ALERT_KINDS = ("NEGATIVE_FEEDBACK", "KEYWORD", "SLA_RISK", "FLAG_PATTERN")
