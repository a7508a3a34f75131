"""flask-smorest's Api, documenting every error as a problem document, and its Blueprint."""
from __future__ import annotations

import http

import marshmallow as ma
import flask_smorest
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from webargs.flaskparser import FlaskParser

from app.errors import PROBLEM_MIMETYPE


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details, with the stable `code` clients translate."""

    type = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    status = ma.fields.Integer(required=True)
    detail = ma.fields.String(required=True)
    code = ma.fields.String(required=True)
    errors = ma.fields.Dict(metadata={"description": "Field errors, on validation failures."})
    missing = ma.fields.List(ma.fields.String(), metadata={
        "description": "CLOSE_REQUIREMENTS_UNMET: every requirement the close misses, as codes "
                       "among CHECKED_OUT_VISIT, AFTER_PHOTO, SIGNATURE, CHECKLIST:<item_key>."})


class BodyParser(FlaskParser):
    """webargs' parser, answering 400 for JSON nested deeper than the decoder can follow
    (`[[[[…` a hundred thousand deep) as it does for any other body that is not JSON."""

    def _raw_load_json(self, req):
        try:
            return super()._raw_load_json(req)
        except RecursionError as error:
            self._handle_invalid_json_error(error, req)


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint, whose argument schemas are made once: given a schema
    class, webargs would make a new instance of it for every request."""

    ARGUMENTS_PARSER = BodyParser()

    def arguments(self, schema, **kwargs):
        if isinstance(schema, type):
            schema = schema()
        return super().arguments(schema, **kwargs)


def documented_as(*decorators):
    """flask-smorest's decorators (`blp.arguments`, `blp.response`) applied for the
    OpenAPI document alone: the view reads its request and writes its answer itself (the
    check-in, the busiest route, whose every layer counts)."""

    def decorator(view):
        documented = view
        for apply in reversed(decorators):
            documented = apply(documented)
        view._apidoc = documented._apidoc
        return view

    return decorator


class FieldProofApi(Api):
    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self):
        """The app registers its own handler (app/__init__.py), answering problem+json."""
        return None

    def _register_responses(self):
        """Every error response is documented as application/problem+json."""
        for status in http.HTTPStatus:
            response: dict = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_MIMETYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Problem document", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_MIMETYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)
        self.spec.components.security_scheme(
            "session", {"type": "apiKey", "in": "cookie", "name": "fieldproof_session",
                        "description": "Browser session from POST /auth/login; changes also "
                                       "need the X-CSRF-Token header."})
        self.spec.components.security_scheme(
            "token", {"type": "http", "scheme": "bearer",
                      "description": "A personal API token from POST /auth/tokens."})
