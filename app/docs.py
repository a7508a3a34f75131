"""The interactive API documentation at /api/v1/docs, served under the strict CSP.

Swagger UI's files come from the flask-swagger-ui package; the page and its start-up
script are ours, so that no inline script is needed.
"""
from __future__ import annotations

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, Response, send_from_directory

bp = Blueprint("docs", __name__)

SWAGGER_DIST = Path(flask_swagger_ui.__file__).parent / "dist"
ASSETS = Path(__file__).parent / "docs_assets"

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>FieldProof API</title>
<link rel="stylesheet" href="/api/v1/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/api/v1/docs/assets/swagger-ui-bundle.js"></script>
<script src="/api/v1/docs/assets/docs-init.js"></script>
</body>
</html>
"""


@bp.get("/api/v1/docs")
def docs_page() -> Response:
    """The Swagger UI page for the OpenAPI document."""
    return Response(PAGE, mimetype="text/html")


@bp.get("/api/v1/docs/assets/<path:name>")
def docs_asset(name: str) -> Response:
    if name == "docs-init.js":
        return send_from_directory(ASSETS, name, max_age=3600)
    return send_from_directory(SWAGGER_DIST, name, max_age=86400)
