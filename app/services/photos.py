"""Photo evidence: upload to a job, the photo flags, the files behind each photo.

A photo's row and its three files (the original bytes, the display copy, the
thumbnail) exist together or not at all. The request commits once, after the view
returns (app/__init__.py). The original is written while its pixels are decoded, once
its content is known to be an image type we take; the two copies once every check has
passed. The files are written through app/storage/transactional.py: a commit keeps
them, a transaction that ends any other way (rolled back, or closed unfinished) deletes
them, and an image refused while decoding takes its original away at once.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import PurePosixPath
from secrets import token_hex
from typing import BinaryIO

import sqlalchemy as sa

from app import settings
from app.domain import verification
from app.errors import Conflict, DomainError, Invalid
from app.extensions import db
from app.imaging import (
    ImageInfo,
    ImageRejected,
    ProcessedPhoto,
    UnsupportedImage,
    dhash_bands,
    dhash_column,
    process_upload,
    sniff_type,
)
from app.models import CasePhoto, Job, KnowledgeItem, Photo, Site, User, Visit
from app.models.sql import duplicate_candidates
from app.models.types import utcnow
from app.scope import get_visible, jobs_visible, owned_by_visible
from app.services import audit
from app.services.knowledge import cases_visible
from app.services.visit_flags import raise_visit_flags
from app.storage import StorageError, photo_storage
from app.storage.transactional import TransactionalStorage

log = logging.getLogger(__name__)

CLOSED_JOB_STATUSES = frozenset({"closed", "cancelled"})
# A photo store that cannot be reached (S3 down): the phone keeps the photo and retries.
STORAGE_RETRY_AFTER_S = 30
ORIGINAL_SUFFIX = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "HEIF": "heic"}


# --- Photos of other jobs that may repeat this one ------------------------------------

def _other_jobs_hashes(job_id: int, sha256: str, dhash: int, max_distance: int
                       ) -> Iterator[tuple[str, int]]:
    """(sha256, unsigned dhash) of the candidates, streamed in batches: reading stops
    at the first duplicate."""
    query = duplicate_candidates(job_id, sha256, dhash, max_distance)
    with db.session.execute(query.execution_options(yield_per=500)) as rows:
        for other_sha, other_dhash in rows:
            yield other_sha, dhash_column(other_dhash, to_db=False)


# --- Upload ---------------------------------------------------------------------------

def upload_photo(engineer: User, job_id: int, kind: str, data: bytes,
                 release_first: bool = False) -> Photo:
    """Attach a photo to the engineer's job; its flags go on the photo and a visit.
    `release_first` (a request): end the transaction before the image work."""
    _ensure_open_job(engineer, job_id)
    if release_first:
        # The image work takes a second or more at full size. The request's transaction
        # so far (its checks; it changed nothing but the sign-in's last-used time) ends
        # before it, so that no pooled connection, and on SQLite no write lock, is held
        # while pixels are decoded: twenty uploads at once would otherwise queue behind
        # one another's decoding past SQLite's busy timeout. The job is read again
        # below. (A command, seed-demo say, keeps its one transaction.)
        db.session.commit()
    storage, stem, original_key, processed = _original_and_copies(data)
    job = _ensure_open_job(engineer, job_id)
    info = processed.info
    uploaded_at = utcnow()
    taken_at = info.taken_at_in(settings.current().zone)
    taken_at = taken_at.astimezone(UTC) if taken_at else None
    job_visits = list(db.session.scalars(
        sa.select(Visit).where(Visit.job_id == job.id).order_by(Visit.in_client_time, Visit.id)
    ))
    flags = _photo_flags(job, info, taken_at, job_visits, uploaded_at)
    open_visit = _open_visit(job_visits, engineer)
    with storage_errors():
        keys = {"original_key": original_key, **_store_files(storage, stem, processed)}
    band0, band1, band2, band3 = dhash_bands(info.dhash)
    photo = Photo(
        job_id=job.id, visit_id=open_visit.id if open_visit else None,
        uploaded_by_id=engineer.id, kind=kind, content_type=info.mime_type,
        size_bytes=len(data), sha256=info.sha256,
        dhash=dhash_column(info.dhash, to_db=True), dhash_band0=band0, dhash_band1=band1,
        dhash_band2=band2, dhash_band3=band3, width=info.width, height=info.height,
        taken_at=taken_at, gps_lat=info.gps[0] if info.gps else None,
        gps_lon=info.gps[1] if info.gps else None, flags=flags, created_at=uploaded_at, **keys,
    )
    db.session.add(photo)
    db.session.flush()
    # The visit it is tied to, else the job's latest (by check-in).
    flagged_visit = (open_visit or (job_visits[-1] if job_visits else None)) if flags else None
    if flagged_visit is not None:
        raise_visit_flags(flagged_visit, flags)
    audit.record(engineer.id, "photo.upload", "photo", photo.id, {
        "job_id": job.id, "visit_id": photo.visit_id, "kind": kind, "sha256": info.sha256,
        "flags": flags, "flagged_visit_id": flagged_visit.id if flagged_visit else None,
    })
    return photo


def _original_and_copies(data: bytes) -> tuple[TransactionalStorage, str, str, ProcessedPhoto]:
    """The pipeline every upload goes through: the type judged by the content (415 before
    any file), the original written while the pixels are decoded (and taken away if they
    are refused); returns the storage, the upload's key stem, the original's key and the
    processed image, whose copies are written by _store_files once every check passed."""
    storage, stem = TransactionalStorage(photo_storage(), db.session), _new_stem()
    with _image_errors():
        fmt, _ = sniff_type(data)
    key = f"{stem}-original.{ORIGINAL_SUFFIX[fmt]}"
    original = storage.put_in_background(key, data)
    try:
        processed = _processed(data)
        with storage_errors():
            original.wait()
    except BaseException:
        original.discard()
        raise
    return storage, stem, key, processed


def _ensure_open_job(engineer: User, job_id: int) -> Job:
    job = get_visible(Job, job_id, jobs_visible(engineer))
    if job.status in CLOSED_JOB_STATUSES:
        raise Conflict(f"Job {job.id} is {job.status}; no photos can be added.", code="JOB_CLOSED")
    return job


def _photo_flags(job: Job, info: ImageInfo, taken_at: datetime | None, job_visits: list[Visit],
                 uploaded_at: datetime) -> list[str]:
    """The photo flags of verification.md for this upload to this job."""
    t = settings.current().thresholds
    site = db.session.get(Site, job.site_id)
    return verification.photo_flags(
        sha256=info.sha256,
        dhash=info.dhash,
        others=_other_jobs_hashes(job.id, info.sha256, info.dhash, t.photo_dhash_max_distance),
        gps=info.gps,
        site=verification.Site(site.lat, site.lon, site.radius_m),
        taken_at=taken_at,
        visit_window=verification.visit_window(
            [(v.in_client_time, v.out_client_time) for v in job_visits], uploaded_at),
        uploaded_at=uploaded_at,
        t=t,
    )


@contextmanager
def _image_errors() -> Iterator[None]:
    """The imaging module's refusals as the API's error codes."""
    try:
        yield
    except UnsupportedImage as exc:
        raise DomainError(exc.detail, code=exc.code, status=415) from None
    except ImageRejected as exc:  # IMAGE_TOO_LARGE, IMAGE_INVALID
        raise Invalid(exc.detail, {"file": [exc.detail]}, code=exc.code) from None


@contextmanager
def storage_errors() -> Iterator[None]:
    """A photo store out of reach as 503 STORAGE_UNAVAILABLE with Retry-After (the
    transaction's clean-up still takes away whatever was written)."""
    try:
        yield
    except StorageError as exc:
        log.warning("photo storage unavailable: %s", exc)
        raise DomainError("The photo storage cannot be reached; try again shortly.",
                          code="STORAGE_UNAVAILABLE", status=503,
                          headers={"Retry-After": str(STORAGE_RETRY_AFTER_S)}) from None


def _processed(data: bytes) -> ProcessedPhoto:
    """The pipeline's verdict on the bytes, as the API's error codes."""
    with _image_errors():
        return process_upload(data)


def _open_visit(job_visits: list[Visit], engineer: User) -> Visit | None:
    """The engineer's visit on this job still open (the latest, should there be two)."""
    open_visits = [v for v in job_visits
                   if v.engineer_id == engineer.id and v.out_client_time is None]
    return open_visits[-1] if open_visits else None


def _new_stem() -> str:
    """A fresh random start for an upload's file keys."""
    token = token_hex(16)
    return f"{token[:2]}/{token}"


def _store_files(storage: TransactionalStorage, stem: str, processed: ProcessedPhoto
                 ) -> dict[str, str]:
    """Write the display copy and the thumbnail under the upload's keys (once every
    check has passed); they go if the transaction fails."""
    files = {
        "display_key": (f"{stem}-display.jpg", processed.display_jpeg),
        "thumb_key": (f"{stem}-thumb.jpg", processed.thumbnail_jpeg),
    }
    for key, data in files.values():
        storage.put(key, data)
    return {column: key for column, (key, _) in files.items()}


# --- Photos on knowledge cases ---------------------------------------------------------

# A case takes photos from its author until it is reviewed.
CASE_PHOTO_STATUSES = frozenset({"draft", "submitted"})


def _case_taking_photos(author: User, case_id: int) -> KnowledgeItem:
    """The author's own case (404 for anyone else's), still open to photos (409)."""
    case = get_visible(KnowledgeItem, case_id, KnowledgeItem.author_id == author.id)
    if case.status not in CASE_PHOTO_STATUSES:
        raise Conflict(f"The case is {case.status}; photos are added before its review.")
    return case


def upload_case_photo(author: User, case_id: int, data: bytes,
                      release_first: bool = False) -> CasePhoto:
    """Attach a photo to the author's case: the job photos' pipeline and limits, no flags."""
    _case_taking_photos(author, case_id)
    if release_first:
        db.session.commit()  # no transaction held while the pixels are decoded (upload_photo)
    storage, stem, original_key, processed = _original_and_copies(data)
    case = _case_taking_photos(author, case_id)
    info = processed.info
    taken_at = info.taken_at_in(settings.current().zone)
    with storage_errors():
        copies = _store_files(storage, stem, processed)
    photo = CasePhoto(
        case_id=case.id, uploaded_by_id=author.id, content_type=info.mime_type,
        size_bytes=len(data), sha256=info.sha256, width=info.width, height=info.height,
        taken_at=taken_at.astimezone(UTC) if taken_at else None, created_at=utcnow(),
        original_key=original_key, **copies,
    )
    db.session.add(photo)
    db.session.flush()
    audit.record(author.id, "case.photo_upload", "case", case.id,
                 {"photo_id": photo.id, "sha256": info.sha256})
    return photo


def list_case_photos(viewer: User, case_id: int) -> sa.Select:
    """The case's photos, oldest first; 404 for a case the viewer may not see."""
    case = get_visible(KnowledgeItem, case_id, cases_visible(viewer))
    return sa.select(CasePhoto).where(CasePhoto.case_id == case.id).order_by(CasePhoto.id)


def visible_case_photo(viewer: User, case_id: int, photo_id: int) -> CasePhoto:
    """A photo of a case the viewer may see (the case's scope)."""
    case = get_visible(KnowledgeItem, case_id, cases_visible(viewer))
    return get_visible(CasePhoto, photo_id, CasePhoto.case_id == case.id)


# --- Reading --------------------------------------------------------------------------

def list_photos(viewer: User, job_id: int) -> sa.Select:
    """The job's photos, newest first; 404 for a job outside the viewer's scope."""
    job = get_visible(Job, job_id, jobs_visible(viewer))
    return sa.select(Photo).where(Photo.job_id == job.id).order_by(Photo.id.desc())


def visible_photo(viewer: User, photo_id: int) -> Photo:
    """A photo of a job the viewer may see (its thumbnail and display copy)."""
    visible_jobs = sa.select(Job.id).where(jobs_visible(viewer))
    return get_visible(Photo, photo_id, Photo.job_id.in_(visible_jobs))


def original_photo(viewer: User, photo_id: int) -> Photo:
    """A photo whose uploader is in the viewer's team (supervisor) or any (admin)."""
    return get_visible(Photo, photo_id, owned_by_visible(viewer, Photo.uploaded_by_id))


def open_file(key: str) -> BinaryIO:
    """A photo file to serve, as a stream the response closes."""
    with storage_errors():
        return photo_storage().open(key)


def original_name(photo: Photo) -> str:
    return f"photo-{photo.id}{PurePosixPath(photo.original_key).suffix}"
