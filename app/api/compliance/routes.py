"""/compliance-events: safety incidents and process violations."""
from __future__ import annotations

from flask import url_for
from flask.views import MethodView
from flask_login import current_user

from app.api.common import envelope, paginate
from app.api.compliance.schemas import (
    ComplianceEventCreateSchema,
    ComplianceEventListArgs,
    ComplianceEventPatchSchema,
    ComplianceEventSchema,
)
from app.api.security import require_roles
from app.api_base import Blueprint
from app.services import compliance as service

blp = Blueprint("compliance", __name__, url_prefix="/api/v1/compliance-events",
                description="Safety incidents and process violations")


@blp.route("")
class ComplianceEventsViews(MethodView):
    @require_roles("supervisor", "admin")
    @blp.arguments(ComplianceEventCreateSchema)
    @blp.response(201, ComplianceEventSchema)
    def post(self, data):
        """Record a compliance event (the engineer's supervisor, admin; audited)."""
        event = service.record_event(current_user, data)
        return event, 201, {"Location": url_for("compliance.ComplianceEventByIdViews", event_id=event.id)}

    @require_roles()
    @blp.arguments(ComplianceEventListArgs, location="query")
    @blp.response(200, envelope(ComplianceEventSchema))
    def get(self, args):
        """List compliance events within your scope."""
        return paginate(service.list_events(current_user, args), args)


@blp.route("/<int:event_id>")
class ComplianceEventByIdViews(MethodView):
    @require_roles()
    @blp.response(200, ComplianceEventSchema)
    def get(self, event_id):
        """One compliance event."""
        return service.get_event(current_user, event_id)

    @require_roles("supervisor", "admin")
    @blp.arguments(ComplianceEventPatchSchema)
    @blp.response(200, ComplianceEventSchema)
    def patch(self, data, event_id):
        """Correct a compliance event (audited)."""
        return service.update_event(current_user, event_id, data)

    @require_roles("supervisor", "admin")
    @blp.response(204)
    def delete(self, event_id):
        """Remove a compliance event recorded by mistake (audited)."""
        service.delete_event(current_user, event_id)
