"""flask-smorest's Api, documenting every error as a problem document."""
from __future__ import annotations

from flask_smorest import Api


class FieldProofApi(Api):
    """The app registers its own HTTPException handler (app/__init__.py), which
    answers with problem+json; flask-smorest's JSON handler is not installed."""

    def _register_error_handlers(self):
        return None
