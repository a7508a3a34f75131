"""The app on the phone as the server delivers it: routes, types, headers, the manifest,
the service worker, the shell's size budget and no request to another host."""
from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from app.pwa import ROOT

STATIC_IMPORT = re.compile(r"""^\s*import\s+(?:[^'"]*?\s+from\s+)?['"](\.{1,2}/[^'"]+)['"]""", re.M)
SHELL_BUDGET = 100 * 1024


def modules_loaded_by(entry: Path) -> set[Path]:
    """The module and everything it imports statically (dynamic import() is lazy)."""
    seen: set[Path] = set()
    todo = [entry.resolve()]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo.extend((path.parent / spec).resolve() for spec in STATIC_IMPORT.findall(path.read_text()))
    return seen


def shell_files() -> set[Path]:
    """What the first screen needs: the page, the stylesheet, app.js with its imports and
    the home screen of either role with theirs (the largest first load)."""
    js = ROOT / "js"
    files = {ROOT / "index.html", ROOT / "app.css"} | modules_loaded_by(js / "app.js")
    homes = [js / "screens" / name for name in ("today.js", "verification.js")]
    return files | max((modules_loaded_by(home) for home in homes), key=lambda s: sum(p.stat().st_size for p in s), default=set())


def test_shell_fits_the_gzip_budget():
    files = shell_files()
    assert ROOT / "js" / "outbox-client.js" in files and ROOT / "js" / "outbox-store.js" in files
    total = sum(len(gzip.compress(path.read_bytes(), 9)) for path in files)
    assert total <= SHELL_BUDGET, f"shell is {total} bytes gzip ({len(files)} files)"


def test_no_request_to_another_host():
    """No URL of another host in the app's files; licence comments and the SVG namespace
    (an identifier, not a request) aside."""
    offenders = []
    for path in ROOT.rglob("*"):
        if not path.is_file() or path.suffix not in {".js", ".mjs", ".css", ".html", ".webmanifest", ".json"}:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.lstrip().startswith(("//", "*", "/*")):
                continue
            for url in re.findall(r"(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}[^\s'\"`)]*", line):
                if url.startswith(("http://www.w3.org/2000/svg", "//www.w3.org/2000/svg")):
                    continue
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {url}")
    assert offenders == []


def test_shell_is_served_at_the_root_and_for_feedback_links(client):
    for path in ("/", "/f/some-token"):
        response = client.get(path)
        assert response.status_code == 200 and response.mimetype == "text/html"
        html = response.get_data(as_text=True)
        assert '<script type="module" src="/pwa/js/app.js"></script>' in html
        assert '<link rel="manifest" href="/manifest.webmanifest">' in html
        assert "<style" not in html and "style=" not in html and re.search(r"<script>(?!</script>)", html) is None
        assert response.headers["Cache-Control"] == "no-cache"
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe-inline" not in csp


def test_no_inline_style_or_markup_strings_in_the_scripts():
    """The CSP forbids inline style attributes; the scripts set styles only through CSSOM."""
    for path in (ROOT / "js").rglob("*.js"):
        text = path.read_text(encoding="utf-8")
        assert "setAttribute('style'" not in text and 'setAttribute("style"' not in text, path
        assert ".innerHTML" not in text and "insertAdjacentHTML" not in text, path
        assert "eval(" not in text and "new Function" not in text, path


def test_static_files_have_their_types_and_are_compressed(client):
    cases = {"/pwa/app.css": "text/css", "/pwa/js/app.js": "text/javascript",
             "/pwa/icons/icon-192.png": "image/png",
             "/pwa/vendor/qrcode-generator-2.0.4.mjs": "text/javascript"}
    for path, mimetype in cases.items():
        plain = client.get(path)
        assert plain.status_code == 200 and plain.mimetype == mimetype, path
        assert plain.headers["X-Content-Type-Options"] == "nosniff"
        packed = client.get(path, headers={"Accept-Encoding": "gzip, br"})
        if mimetype.startswith("text/"):
            assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
            assert gzip.decompress(packed.data) == plain.data
        else:
            assert "Content-Encoding" not in packed.headers and packed.data == plain.data


def test_revalidation_answers_304(client):
    first = client.get("/pwa/js/app.js")
    again = client.get("/pwa/js/app.js", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


@pytest.mark.parametrize("path", ["/pwa/../app/config.py", "/pwa/icons/make_icons.py", "/pwa/nothing.js",
                                  "/pwa/%2e%2e/wsgi.py", "/pwa/js/"])
def test_only_the_apps_files_are_served(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_service_worker_is_served_for_the_whole_app_with_its_version(client):
    response = client.get("/sw.js")
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/"
    assert response.headers["Cache-Control"] == "no-cache"
    script = response.get_data(as_text=True)
    version = re.search(r"const VERSION = '([0-9a-f]{16})';", script)
    assert version, "the version is written in"
    files = json.loads(re.search(r"const SHELL = (\[.*?\]);", script).group(1))
    assert {"/", "/pwa/app.css", "/pwa/js/app.js", "/pwa/js/outbox-store.js", "/pwa/js/screens/today.js",
            "/manifest.webmanifest"} <= set(files)
    assert "/pwa/icons/make_icons.py" not in files and not any(f.endswith("sw.js") for f in files)
    for needed in ("addEventListener('fetch'", "addEventListener('sync'", "importScripts('/pwa/js/outbox-store.js')"):
        assert needed in script
    # The same script twice: same version (so the browser keeps its worker).
    assert client.get("/sw.js").get_data(as_text=True) == script


def test_manifest_makes_the_app_installable(client):
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200 and response.mimetype == "application/manifest+json"
    manifest = json.loads(response.data)
    assert manifest["name"] == "FieldProof" and manifest["short_name"]
    assert manifest["display"] == "standalone" and manifest["start_url"].startswith("/")
    assert re.fullmatch(r"#[0-9a-f]{6}", manifest["theme_color"])
    icons = {(icon["sizes"], icon.get("purpose", "any")): icon for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= set(icons)
    from PIL import Image

    for (sizes, _), icon in icons.items():
        image = client.get(icon["src"])
        assert image.status_code == 200 and image.mimetype == "image/png"
        with Image.open(Path(ROOT, icon["src"].removeprefix("/pwa/"))) as png:
            assert f"{png.width}x{png.height}" == sizes


def test_every_screen_string_has_both_languages():
    """Each register({...}) block names the same keys in English and Chinese."""
    block = re.compile(r"register\(\{\s*en:\s*\{(.*?)\},\s*'zh-CN':\s*\{(.*?)\},?\s*\}\);", re.S)
    key = re.compile(r"'([a-z_]+(?:\.[A-Za-z_.]+)+)':")
    checked = 0
    for path in (ROOT / "js").rglob("*.js"):
        for en, zh in block.findall(path.read_text(encoding="utf-8")):
            assert set(key.findall(en)) == set(key.findall(zh)), path
            checked += 1
    assert checked >= 8
