"""Use cases on customer sites, including the all-or-nothing CSV import."""
from __future__ import annotations

import csv
import io
from typing import Any

import sqlalchemy as sa
from marshmallow import ValidationError

from app import settings
from app.errors import Invalid
from app.extensions import db
from app.models import Site, User

CSV_COLUMNS = ("name", "customer_name", "address", "lat", "lon", "radius_m", "contact_name",
               "contact_phone")
REQUIRED_COLUMNS = CSV_COLUMNS[:5]
MAX_IMPORT_ROWS = 10_000


def create_site(actor: User, data: dict[str, Any]) -> Site:
    site = _new_site(actor, data)
    db.session.add(site)
    db.session.flush()
    return site


def _new_site(actor: User, data: dict[str, Any]) -> Site:
    radius = data.get("radius_m") or int(settings.current()["GEOFENCE_DEFAULT_RADIUS_M"])
    return Site(
        name=data["name"].strip(), customer_name=data["customer_name"].strip(),
        address=data["address"].strip(), lat=data["lat"], lon=data["lon"],
        radius_m=radius, contact_name=data.get("contact_name"),
        contact_phone=data.get("contact_phone"), created_by_id=actor.id,
    )


def update_site(site: Site, data: dict[str, Any]) -> Site:
    for name, value in data.items():
        setattr(site, name, value.strip() if isinstance(value, str) else value)
    db.session.flush()
    return site


def list_sites(args: dict[str, Any]) -> sa.Select:
    query = sa.select(Site).order_by(Site.id.desc())
    if args.get("q"):
        pattern = "%" + args["q"].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            sa.or_(
                Site.name.ilike(pattern, escape="\\"),
                Site.customer_name.ilike(pattern, escape="\\"),
                Site.address.ilike(pattern, escape="\\"),
            )
        )
    return query


def decode_csv(raw: bytes) -> str:
    """UTF-8 (with or without a byte-order mark), else GB18030 as Excel writes it in China."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise Invalid("The file is neither UTF-8 nor GB18030 text.", {"file": ["Not a text file."]})


def import_sites(actor: User, raw: bytes, row_schema) -> list[Site]:
    """Every row valid, or nothing imported and every bad row reported by its line."""
    text = decode_csv(raw)
    # csv.reader rather than DictReader: DictReader skips blank lines unseen, which
    # would shift every later line number; here each record starts one line after
    # the previous record ended, even when a quoted value spans several lines.
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip() for name in next(reader, None) or []]
        _check_columns(header)
        rows: list[dict[str, Any]] = []
        row_errors: list[dict[str, Any]] = []
        line_no = reader.line_num + 1
        for record in reader:
            start, line_no = line_no, reader.line_num + 1
            if len(rows) + len(row_errors) >= MAX_IMPORT_ROWS:
                raise Invalid(f"At most {MAX_IMPORT_ROWS} rows per file.", {"file": ["Too many rows."]})
            cells = [cell.strip() for cell in record]
            if not any(cells):
                continue  # blank line
            if len(cells) > len(header):
                row_errors.append({"row": start, "errors": {"row": ["More values than columns."]}})
                continue
            values = dict(zip(header, cells + [""] * (len(header) - len(cells))))
            if not values.get("radius_m"):
                values.pop("radius_m", None)
            try:
                rows.append(row_schema.load(values))
            except ValidationError as exc:
                row_errors.append({"row": start, "errors": exc.messages})
    except csv.Error as exc:
        raise Invalid("The file is not valid CSV.", {"file": [str(exc)]}) from exc
    if row_errors:
        raise Invalid(f"{len(row_errors)} row(s) have errors; nothing was imported.",
                      {"rows": row_errors})
    if not rows:
        raise Invalid("The file has no rows.", {"file": ["No rows to import."]})
    sites = [_new_site(actor, data) for data in rows]
    db.session.add_all(sites)
    db.session.flush()
    return sites


def _check_columns(header: list[str]) -> None:
    """The header names each required column once and nothing else (any order)."""
    messages = [f"Missing column: {name}." for name in REQUIRED_COLUMNS if name not in header]
    messages += [f"Unknown column: {name}." for name in header if name not in CSV_COLUMNS]
    # A repeated column would silently take its last value.
    messages += [f"Duplicate column: {name}." for name in CSV_COLUMNS if header.count(name) > 1]
    if messages:
        raise Invalid("The CSV header does not match the site columns.", {"columns": messages})
