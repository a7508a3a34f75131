"""The app on the phone: the shell, its service worker, manifest and static files.

Everything lives in `static/pwa/` and is served as it is (no build step). Text files are
sent gzip-compressed when the client accepts it, with an ETag so that a revalidation
costs one small request. The service worker gets the shell's version (a digest of every
file) and the list of files to keep offline written into it when it is served, so that
any change to a file installs a new worker and refreshes the phone's cache.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import mimetypes
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Response, abort, request

bp = Blueprint("pwa", __name__)

ROOT = Path(__file__).resolve().parent.parent / "static" / "pwa"
# Files of the folder that are not part of the app (the icon generator).
NOT_SERVED = {".py"}
TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
}
COMPRESSIBLE = {".js", ".mjs", ".css", ".html", ".json", ".webmanifest", ".svg"}


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    mimetype: str
    etag: str


def _served_files() -> list[Path]:
    return sorted(
        path for path in ROOT.rglob("*")
        if path.is_file() and path.suffix not in NOT_SERVED and not path.name.startswith(".")
        and path.name != "sw.js"
    )


def _signature() -> tuple:
    """What the cached assets depend on: each file's name, size and modification time."""
    return tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in _served_files() + [ROOT / "sw.js"])


@lru_cache(maxsize=8)
def _shell(signature: tuple) -> tuple[str, list[str]]:
    """The shell's version (a digest of every file) and the URLs the worker keeps offline."""
    digest = hashlib.sha256()
    for path in _served_files():
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    urls = ["/"] + ["/pwa/" + p.relative_to(ROOT).as_posix() for p in _served_files()]
    urls.append("/manifest.webmanifest")
    return digest.hexdigest()[:16], urls


@lru_cache(maxsize=256)
def _load(path: Path, mtime_ns: int, substitutions: tuple = ()) -> Asset:
    body = path.read_bytes()
    for old, new in substitutions:
        body = body.replace(old.encode(), new.encode())
    mimetype = TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    gzipped = gzip.compress(body, 9, mtime=0) if path.suffix in COMPRESSIBLE else None
    etag = hashlib.sha256(body).hexdigest()[:20]
    return Asset(body, gzipped, mimetype, etag)


def _send(asset: Asset, cache_control: str) -> Response:
    accepts_gzip = "gzip" in request.headers.get("Accept-Encoding", "").lower()
    use_gzip = asset.gzipped is not None and accepts_gzip
    response = Response(asset.gzipped if use_gzip else asset.body, mimetype=asset.mimetype)
    if asset.mimetype.startswith("text/") or asset.mimetype.endswith("json") or asset.mimetype.endswith("+xml"):
        response.charset = "utf-8"
        response.headers["Content-Type"] = f"{asset.mimetype}; charset=utf-8"
    if use_gzip:
        response.headers["Content-Encoding"] = "gzip"
    if asset.gzipped is not None:
        response.headers["Vary"] = "Accept-Encoding"
    response.set_etag(asset.etag + ("-gz" if use_gzip else ""))
    response.headers["Cache-Control"] = cache_control
    return response.make_conditional(request)


def _file(relative: str) -> Path:
    path = (ROOT / relative).resolve()
    if ROOT not in path.parents or not path.is_file() or path.suffix in NOT_SERVED or path.name.startswith("."):
        abort(404)
    return path


def _asset(relative: str, substitutions: tuple = ()) -> Asset:
    path = _file(relative)
    return _load(path, path.stat().st_mtime_ns, substitutions)


@bp.get("/")
def shell() -> Response:
    """The app shell; the app routes by the URL's hash."""
    return _send(_asset("index.html"), "no-cache")


@bp.get("/f/<token>")
def feedback_page(token: str) -> Response:
    """The customer's rating page: the same shell, which reads the token from the path."""
    return _send(_asset("index.html"), "no-cache")


@bp.get("/sw.js")
def service_worker() -> Response:
    """The service worker, with the shell's version and file list written in; scope `/`."""
    version, urls = _shell(_signature())
    asset = _asset("sw.js", (("__SHELL_VERSION__", version), ('"__SHELL_FILES__"', json.dumps(urls))))
    response = _send(asset, "no-cache")
    response.headers["Service-Worker-Allowed"] = "/"
    return response


@bp.get("/manifest.webmanifest")
def manifest() -> Response:
    """The web app manifest (installability)."""
    return _send(_asset("manifest.webmanifest"), "no-cache")


@bp.get("/pwa/<path:name>")
def asset(name: str) -> Response:
    """A file of the app: revalidated by ETag (the service worker keeps the offline copy)."""
    return _send(_asset(name), "no-cache")
