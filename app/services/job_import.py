"""The CSV import of jobs: a dry run that reports every refused row by its line and
reason, and a real run that imports every row or none, in one transaction.

The file is read as a stream of rows (csv.reader over a decoding wrapper), each row
kept as a small dict of column values; the references (sites, categories, engineers,
stored ticket ids) are then checked with a few set-based queries, and the jobs are
written with multi-row INSERTs, a thousand rows a statement, without an ORM object each.
"""
from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime
from types import SimpleNamespace
from typing import Any, BinaryIO

import sqlalchemy as sa

from app import settings
from app.domain import intake as rules
from app.domain import jobs as job_rules
from app.domain.intake import ImportRow, Reason
from app.errors import Invalid
from app.extensions import db
from app.models import IntakeSource, Job, Site, User
from app.models.types import utcnow
from app.services import alerts, audit
from app.services.kpi import store as kpi_store
from app.services.categories import list_categories

CHUNK = 1000  # ids per IN list, rows per INSERT statement
_jobs = Job.__table__
# Each inserted row answers with what its alerts need, so no pairing with the input is
# needed: RETURNING in parameter order would make SQLite insert one row a statement.
_INSERT = _jobs.insert().returning(_jobs.c.id, _jobs.c.engineer_id, _jobs.c.description)


def import_jobs(actor: User, raw: BinaryIO, source: str | None, dry_run: bool) -> dict[str, Any]:
    """The import's report; the jobs are inserted (in the caller's transaction) only
    when it is not a dry run and no row is refused (422 listing them otherwise)."""
    source_key = _source_key(source)
    now = utcnow()
    rows = _read(raw, now, settings.current()["CLOCK_AHEAD_TOLERANCE_S"])
    if not rows:
        raise Invalid("The file has no rows.", {"file": ["No rows to import."]})
    _check_references(actor, rows, source_key)
    refused = [_refusal(row) for row in rows if row.reasons]
    report: dict[str, Any] = {"dry_run": dry_run, "source": source_key, "rows": len(rows),
                              "accepted": len(rows) - len(refused), "imported": 0,
                              "refused": refused, "job_ids": []}
    if dry_run:
        return report
    if refused:
        raise Invalid(f"{len(refused)} of {len(rows)} rows are refused; nothing was imported.",
                      {"rows": refused})
    report["job_ids"] = _insert(actor, rows, source_key, now)
    report["imported"] = len(report["job_ids"])
    return report


def _source_key(source: str | None) -> str:
    """Jobs of a file keep the intake source named (so a ticket delivered by the desk's
    webhook and the same ticket in an export are one job), else `csv`."""
    if source is None:
        return rules.CSV_SOURCE
    if source != rules.CSV_SOURCE and db.session.scalar(
            sa.select(IntakeSource.id).where(IntakeSource.key == source)) is None:
        raise Invalid("There is no intake source by this key.", {"source": ["Unknown intake source."]})
    return source


def _refusal(row: ImportRow) -> dict[str, Any]:
    # Codes, column names and fixed messages only: a cell may hold a spreadsheet formula.
    return {"line": row.line, "reasons": [
        {"code": reason.code, "column": reason.column, "detail": reason.detail}
        for reason in row.reasons]}


# --- reading -------------------------------------------------------------------------

def _read(raw: BinaryIO, now: datetime, tolerance_s: int) -> list[ImportRow]:
    """Every data row, checked on its own. UTF-8 (with or without a byte-order mark),
    else GB18030 as Excel writes it in China: read again from the start if need be."""
    for encoding in ("utf-8-sig", "gb18030"):
        raw.seek(0)
        # newline="": lines end at \n, \r or \r\n only, as the csv module requires.
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        try:
            return list(_rows(text, now, tolerance_s))
        except UnicodeDecodeError:
            continue
        finally:
            text.detach()  # the caller's stream stays open
    raise Invalid("The file is neither UTF-8 nor GB18030 text.", {"file": ["Not a text file."]})


def _rows(text: Iterable[str], now: datetime, tolerance_s: int) -> Iterator[ImportRow]:
    # csv.reader rather than DictReader: DictReader skips blank lines unseen, which would
    # shift every later line number; a quoted value may span several lines.
    reader = csv.reader(text)
    try:
        header = [name.strip() for name in next(reader, None) or []]
        problems = rules.import_header_errors(header)
        if problems:
            raise Invalid("The CSV header does not match the job columns.", {"columns": problems})
        count, line = 0, reader.line_num + 1
        for record in reader:
            start, line = line, reader.line_num + 1
            cells = [cell.strip() for cell in record]
            if not any(cells):
                continue  # a blank line
            count += 1
            if count > rules.MAX_IMPORT_ROWS:
                raise Invalid(f"At most {rules.MAX_IMPORT_ROWS} rows per file.",
                              {"file": [f"More than {rules.MAX_IMPORT_ROWS} rows."]})
            yield rules.read_import_row(start, header, cells, now, tolerance_s)
    except csv.Error as exc:
        raise Invalid("The file is not valid CSV.",
                      {"file": [f"Line {reader.line_num}: {exc}"[:200]]}) from exc


# --- references ----------------------------------------------------------------------

def _chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for value in values:
        chunk.append(value)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _existing(column: sa.ColumnElement, values: set[Any], *where: sa.ColumnElement[bool]) -> set[Any]:
    found: set[Any] = set()
    for chunk in _chunks(sorted(values)):
        found.update(db.session.scalars(sa.select(column).where(column.in_(chunk), *where)))
    return found


def _check_references(actor: User, rows: list[ImportRow], source_key: str) -> None:
    """Unknown sites and categories, engineers outside the actor's dispatch scope, and
    ticket ids given twice in the file or already stored for the source."""
    def named(name: str) -> set[Any]:
        return {row.values[name] for row in rows if row.values.get(name) is not None}

    sites = _existing(Site.id, named("site_id"))
    categories = {category.key for category in list_categories()}
    scope = [User.role == "engineer", User.active.is_(True)]
    if actor.role != "admin":
        scope.append(User.supervisor_id == actor.id)
    engineers = _existing(User.id, named("engineer_id"), *scope)
    stored = _existing(Job.external_id, named("external_id"), Job.source == source_key)
    first_line: dict[str, int] = {}
    for row in rows:
        values, refuse = row.values, row.reasons.append
        if values.get("site_id") is not None and values["site_id"] not in sites:
            refuse(Reason(rules.UNKNOWN_SITE, "site_id", "There is no such site."))
        if values.get("category") and values["category"] not in categories:
            refuse(Reason(rules.UNKNOWN_CATEGORY, "category", "There is no such category."))
        if values.get("engineer_id") is not None and values["engineer_id"] not in engineers:
            refuse(Reason(rules.ENGINEER_OUT_OF_SCOPE, "engineer_id",
                          "Not an active engineer you may dispatch to."))
        external_id = values.get("external_id")
        if external_id:
            if external_id in first_line:
                refuse(Reason(rules.DUPLICATE_IN_FILE, "external_id",
                              f"The same external_id as line {first_line[external_id]}."))
            else:
                first_line[external_id] = row.line
            if external_id in stored:
                refuse(Reason(rules.ALREADY_IMPORTED, "external_id",
                              f"A job of source {source_key} has this external_id already."))


# --- writing -------------------------------------------------------------------------

def _insert(actor: User, rows: list[ImportRow], source_key: str, now: datetime) -> list[int]:
    repeats = _repeat_candidates(rows)
    ids: list[int] = []
    described = []
    for chunk in _chunks(rows):
        params = [_job_values(actor, row.values, source_key, now, repeats) for row in chunk]
        for job in params:
            # A new job's only figure is its dispatch; a repeat moves the earlier job's.
            kpi_store.touch(db.session, job["engineer_id"], job["assigned_at"], ("dispatch",))
        kpi_store.touch_jobs(db.session, {j["repeat_of_id"] for j in params if j["repeat_of_id"]})
        for job_id, engineer_id, description in db.session.connection().execute(_INSERT, params):
            ids.append(job_id)
            if description:
                described.append(SimpleNamespace(id=job_id, engineer_id=engineer_id,
                                                 description=description, resolution=None))
    alerts.raise_imported_job_alerts(described)
    ids.sort()
    audit.record(actor.id, "job.import", "job", None, {
        "source": source_key, "imported": len(ids), "first_id": ids[0], "last_id": ids[-1],
        "assigned": sum(1 for row in rows if row.values["engineer_id"] is not None)})
    return ids


def _job_values(actor: User, values: dict[str, Any], source_key: str, now: datetime,
                repeats: dict[int, list[job_rules.ClosedJob]]) -> dict[str, Any]:
    engineer_id, reported_at = values["engineer_id"], values["reported_at"]
    return {
        "site_id": values["site_id"], "title": values["title"], "description": values["description"],
        "category": values["category"], "priority": values["priority"], "mode": values["mode"],
        "asset_ref": values["asset_ref"], "reported_at": reported_at,
        "scheduled_for": values["scheduled_for"], "engineer_id": engineer_id,
        "status": "assigned" if engineer_id else "new",
        # As POST /jobs: a dispatch never precedes the report.
        "assigned_at": max(now, reported_at) if engineer_id else None,
        "created_by_id": actor.id, "source": source_key, "external_id": values["external_id"],
        "repeat_of_id": job_rules.repeat_of(values["asset_ref"], values["category"], reported_at,
                                            repeats.get(values["site_id"], ())),
        "created_at": now, "updated_at": now,
    }


def _repeat_candidates(rows: list[ImportRow]) -> dict[int, list[job_rules.ClosedJob]]:
    """The closed jobs the imported ones may repeat (api.md), by site, read at once."""
    times = [row.values["reported_at"] for row in rows]
    earliest, latest = min(times) - job_rules.REPEAT_WINDOW, max(times)
    found: dict[int, list[job_rules.ClosedJob]] = defaultdict(list)
    for chunk in _chunks(sorted({row.values["site_id"] for row in rows})):
        for site_id, *job in db.session.execute(
            sa.select(Job.site_id, Job.id, Job.asset_ref, Job.category, Job.closed_at).where(
                Job.site_id.in_(chunk), Job.status == "closed",
                Job.closed_at >= earliest, Job.closed_at < latest)
        ):
            found[site_id].append(job_rules.ClosedJob(*job))
    return found
