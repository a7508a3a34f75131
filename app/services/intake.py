"""Use cases of ticket intake: the service-desk sources (admin), the signed webhook that
turns a ticket into a job once, and the deliveries log.

A source's secret signs its deliveries, so the server must be able to read it: unlike an
API token it cannot be kept as a digest. It is stored encrypted (Fernet: AES-128-CBC and
HMAC-SHA256) with a key derived from SECRET_KEY by HKDF, so that someone who can read
the database (a leaked backup, a read-only SQL account) cannot recover it and forge
deliveries without also holding the application's SECRET_KEY. A key in
SECRET_KEY_FALLBACKS still decrypts, so SECRET_KEY can be rotated; re-rotating each
source's secret then re-encrypts it under the new key.
"""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import asdict
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app import settings
from app.domain import intake as rules
from app.domain.intake import IntakeRefused
from app.errors import Conflict, Invalid, NotFound
from app.extensions import db
from app.models import IntakeDelivery, IntakeSource, Job, Site, User
from app.models.types import utcnow
from app.services import audit
from app.services import jobs as job_service
from app.services.categories import category_rule, list_categories

SECRET_PREFIX = "whsec_"
_HKDF_INFO = b"fieldproof intake source secrets v1"


# --- secrets at rest -----------------------------------------------------------------

def _fernet_key(secret_key: str | bytes) -> bytes:
    material = secret_key.encode() if isinstance(secret_key, str) else secret_key
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(material)
    return base64.urlsafe_b64encode(derived)


def _cipher() -> MultiFernet:
    config = settings.current()
    keys = [config["SECRET_KEY"], *(config.get("SECRET_KEY_FALLBACKS") or [])]
    return MultiFernet([Fernet(_fernet_key(key)) for key in keys])


def _encrypt(secret: str) -> str:
    return _cipher().encrypt(secret.encode()).decode()


def _decrypt(ciphertext: str) -> str | None:
    """The secret, or None when no configured key opens it (SECRET_KEY changed)."""
    try:
        return _cipher().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        return None


def _new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def accepted_secrets(source: IntakeSource) -> list[str]:
    """The secrets a delivery may be signed with now: the current one, and the one
    before it until its grace period ends."""
    found = [_decrypt(source.secret_ciphertext)]
    if (source.previous_secret_ciphertext and source.previous_secret_expires_at
            and source.previous_secret_expires_at > utcnow()):
        found.append(_decrypt(source.previous_secret_ciphertext))
    return [secret for secret in found if secret]


# --- sources (admin) -----------------------------------------------------------------

def _check_mapping(mapping: dict[str, Any]) -> None:
    """The mapping's shape, and the sites and categories its values name exist."""
    errors = rules.mapping_errors(mapping, _site_ids_in(mapping.get("site")))
    rule = mapping.get("category")
    if isinstance(rule, dict) and not errors.get("category"):
        known = {category.key for category in list_categories()}
        if not set(_values_of(rule)) <= known:
            errors["category"] = ["category values must be known categories."]
    if errors:
        raise Invalid("The field mapping is not valid.", {"mapping": errors})


def _site_ids_in(rule: Any) -> list[int]:
    """The existing sites among those a site rule names (ids it maps codes to)."""
    if not isinstance(rule, dict):
        return []
    ids = {value for value in _values_of(rule) if isinstance(value, int)
           and not isinstance(value, bool) and 0 < value < 2**31}
    if not ids:
        return []
    return list(db.session.scalars(sa.select(Site.id).where(Site.id.in_(ids))))


def _values_of(rule: dict[str, Any]) -> list[Any]:
    """What a mapping rule may yield: its map's values, its constant and its default."""
    table = rule.get("map")
    named = list(table.values()) if isinstance(table, dict) else []
    return named + [rule[key] for key in ("value", "default") if key in rule]


def create_source(actor: User, data: dict[str, Any]) -> tuple[IntakeSource, str]:
    """A new source and its secret, which is returned here and never again."""
    if data["key"] == rules.CSV_SOURCE:
        raise Invalid("The key csv names jobs imported from files.", {"key": ["Reserved."]})
    if db.session.scalar(sa.select(IntakeSource.id).where(IntakeSource.key == data["key"])):
        raise Conflict(f"There is already a source {data['key']}.")
    _check_mapping(data["mapping"])
    secret = _new_secret()
    source = IntakeSource(key=data["key"], name=data["name"], mapping=data["mapping"],
                          secret_ciphertext=_encrypt(secret), active=data.get("active", True),
                          created_by_id=actor.id)
    db.session.add(source)
    db.session.flush()
    audit.record(actor.id, "intake_source.create", "intake_source", source.id,
                 {"key": source.key, "name": source.name, "active": source.active})
    return source, secret


def get_source(source_id: int) -> IntakeSource:
    source = db.session.get(IntakeSource, source_id)
    if source is None:
        raise NotFound(f"No intake source {source_id}.")
    return source


def list_sources() -> sa.Select:
    return sa.select(IntakeSource).order_by(IntakeSource.id.desc())


def update_source(actor: User, source_id: int, data: dict[str, Any]) -> IntakeSource:
    """Rename, change the mapping, disable or enable; each change audited with from/to
    (a disable or enable also under its own action, so the log reads plainly)."""
    source = get_source(source_id)
    if "mapping" in data:
        _check_mapping(data["mapping"])
    changes = audit.apply_changes(source, data)
    if changes:
        db.session.flush()
        action = "intake_source.update"
        if set(changes) == {"active"}:
            action = "intake_source.enable" if source.active else "intake_source.disable"
        audit.record(actor.id, action, "intake_source", source.id, changes)
    return source


def rotate_secret(actor: User, source_id: int, keep_previous_hours: int) -> tuple[IntakeSource, str]:
    """A new secret, shown once. The old one is refused at once, or still accepted for
    `keep_previous_hours` while the desk is being reconfigured."""
    source = get_source(source_id)
    secret, now = _new_secret(), utcnow()
    if keep_previous_hours:
        source.previous_secret_ciphertext = source.secret_ciphertext
        source.previous_secret_expires_at = now + timedelta(hours=keep_previous_hours)
    else:
        source.previous_secret_ciphertext = source.previous_secret_expires_at = None
    source.secret_ciphertext, source.secret_rotated_at = _encrypt(secret), now
    db.session.flush()
    audit.record(actor.id, "intake_source.rotate_secret", "intake_source", source.id,
                 {"keep_previous_hours": keep_previous_hours})
    return source, secret


# --- the webhook ---------------------------------------------------------------------

def receive(source_key: str, timestamp: str | None, signature: str | None, body: bytes,
            remote_addr: str | None) -> IntakeDelivery:
    """Turn a signed delivery into a job, once per ticket; the delivery as logged (its
    outcome `created`, or `duplicate` when the ticket's job existed already). A refusal
    raises IntakeRefused, which the caller records (see record_refusal)."""
    source = _source_by_key(source_key)
    if source is None:
        raise IntakeRefused(404, "UNKNOWN_SOURCE", "There is no intake source by this key.")
    if not source.active:
        raise IntakeRefused(403, "SOURCE_DISABLED", "This intake source is disabled.")
    config = settings.current()
    now = utcnow()
    secrets_now = accepted_secrets(source)
    if not secrets_now:
        # SECRET_KEY changed without the old one in SECRET_KEY_FALLBACKS: say so in the
        # log rather than blame every delivery's signature.
        raise IntakeRefused(401, "SECRET_UNREADABLE", "The source's secret cannot be read "
                            "with the server's key; an admin must rotate it.")
    rules.check_signature(secrets_now, timestamp, signature, body, now,
                          config["INTAKE_TIMESTAMP_TOLERANCE_S"])
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        raise IntakeRefused(400, "MALFORMED_REQUEST", "The body is not valid JSON.") from None
    ticket = rules.map_ticket(payload, source.mapping, now, config["CLOCK_AHEAD_TOLERANCE_S"])
    job, created = _stored_job(source.key, ticket.external_id), False
    if job is None:
        job, created = _new_job(source, ticket)
    return _log(source.key, source.id, "created" if created else "duplicate",
                201 if created else 200, body, remote_addr, external_id=ticket.external_id,
                job_id=job.id)


def _source_by_key(key: str) -> IntakeSource | None:
    """The source a URL names; a key no source could have is not looked up."""
    if not rules.SOURCE_KEY.match(key):
        return None
    return db.session.scalar(sa.select(IntakeSource).where(IntakeSource.key == key))


def _stored_job(source_key: str, external_id: str) -> Job | None:
    return db.session.scalar(sa.select(Job).where(Job.source == source_key,
                                                  Job.external_id == external_id))


def _new_job(source: IntakeSource, ticket: rules.MappedTicket) -> tuple[Job, bool]:
    """The ticket's job, and whether this call made it. When a concurrent delivery of
    the same ticket commits first, the unique index refuses this insert, and this call
    answers that job (on PostgreSQL the insert waits for the other transaction, then
    fails inside its savepoint; SQLite lets one writer in at a time)."""
    unknown: dict[str, list[str]] = {}
    if db.session.get(Site, ticket.site_id) is None:
        unknown["site"] = ["The mapped site does not exist."]
    if category_rule(ticket.category) is None:
        unknown["category"] = ["The mapped category is not a known category."]
    if unknown:
        raise IntakeRefused(422, "MAPPING_FAILED", "The payload could not be mapped to a job: "
                            + ", ".join(sorted(unknown)) + ".", {"mapping": unknown})
    data = {name: value for name, value in asdict(ticket).items() if value is not None}
    data["source"] = source.key
    try:
        with db.session.begin_nested():
            return job_service.create_job(None, data), True
    except sa.exc.IntegrityError:
        job = _stored_job(source.key, ticket.external_id)
        if job is None:
            raise
        return job, False


def _log(source_key: str, source_id: int | None, outcome: str, status: int, body: bytes,
         remote_addr: str | None, *, code: str | None = None, detail: str | None = None,
         external_id: str | None = None, job_id: int | None = None) -> IntakeDelivery:
    delivery = IntakeDelivery(
        # The key as addressed, which may be anything a URL can carry.
        source_key=source_key.replace("\x00", "")[:40], source_id=source_id,
        outcome=outcome, status=status, code=code, detail=(detail or "")[:500] or None, external_id=external_id, job_id=job_id,
        body_sha256=hashlib.sha256(body).hexdigest(), body_bytes=len(body),
        remote_addr=(remote_addr or "")[:64] or None,
    )
    db.session.add(delivery)
    db.session.flush()
    return delivery


def record_refusal(source_key: str, refusal: IntakeRefused, body: bytes,
                   remote_addr: str | None) -> None:
    """Log a refused delivery in a transaction of its own: the request's is undone."""
    db.session.rollback()
    source = _source_by_key(source_key)
    _log(source_key, source and source.id, "refused", refusal.status, body, remote_addr,
         code=refusal.code, detail=refusal.detail)
    db.session.commit()


def list_deliveries(args: dict[str, Any]) -> sa.Select:
    query = sa.select(IntakeDelivery).order_by(IntakeDelivery.id.desc())
    for name in ("source_id", "code"):
        if name in args:
            query = query.where(getattr(IntakeDelivery, name) == args[name])
    if args.get("outcome"):
        query = query.where(IntakeDelivery.outcome.in_(args["outcome"]))
    if "from_" in args:
        query = query.where(IntakeDelivery.received_at >= args["from_"])
    if "to" in args:
        query = query.where(IntakeDelivery.received_at < args["to"])
    return query
