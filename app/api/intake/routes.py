"""Ticket intake: the service-desk sources (admin), their deliveries log, and the
signed webhook `POST /intake/{source}` that turns a ticket into a job once."""
from __future__ import annotations

from flask import current_app, request, url_for
from flask.views import MethodView
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from app import idempotency
from app.api.common import PageArgs, envelope, paginate
from app.api.intake.schemas import (
    IntakeDeliveryListArgs,
    IntakeDeliverySchema,
    IntakeReceiptSchema,
    IntakeSourceCreateSchema,
    IntakeSourcePatchSchema,
    IntakeSourceSchema,
    NewSecretSchema,
    RotateSecretSchema,
)
from app.api.intake.webhook_doc import WEBHOOK_DOC
from app.api.security import require_roles
from app.api_base import Blueprint
from app.domain.intake import SIGNATURE_HEADER, TIMESTAMP_HEADER, IntakeRefused
from app.extensions import limiter
from app.models import IntakeSource
from app.services import intake as service

blp = Blueprint("intake", __name__, url_prefix="/api/v1", description="Ticket intake from service desks")


def _answer_with_secret(source, secret: str, status: int):
    """A source with its new secret; a replay of the request answers `secret` null."""
    idempotency.withhold("secret")
    body = {column.key: getattr(source, column.key) for column in IntakeSource.__table__.columns}
    body["secret"] = secret
    return body, status, {"Location": url_for("intake.IntakeSourceByIdViews", source_id=source.id)}


@blp.route("/intake-sources")
class IntakeSourcesViews(MethodView):
    @require_roles("admin")
    @blp.arguments(IntakeSourceCreateSchema)
    @blp.response(201, NewSecretSchema)
    def post(self, data):
        """Configure a service desk as a source (admin; audited); its secret is shown once."""
        source, secret = service.create_source(current_user, data)
        return _answer_with_secret(source, secret, 201)

    @require_roles("admin")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, envelope(IntakeSourceSchema))
    def get(self, args):
        """List the intake sources (admin), never their secrets."""
        return paginate(service.list_sources(), args)


@blp.route("/intake-sources/<int:source_id>")
class IntakeSourceByIdViews(MethodView):
    @require_roles("admin")
    @blp.response(200, IntakeSourceSchema)
    def get(self, source_id):
        """One intake source (admin)."""
        return service.get_source(source_id)

    @require_roles("admin")
    @blp.arguments(IntakeSourcePatchSchema)
    @blp.response(200, IntakeSourceSchema)
    def patch(self, data, source_id):
        """Rename a source, change its field mapping, disable or enable it (admin; audited)."""
        return service.update_source(current_user, source_id, data)


@blp.route("/intake-sources/<int:source_id>/rotate-secret")
class IntakeSourceSecretViews(MethodView):
    @require_roles("admin")
    @blp.arguments(RotateSecretSchema)
    @blp.response(200, NewSecretSchema)
    def post(self, data, source_id):
        """Give a source a new signing secret, shown once (admin; audited)."""
        source, secret = service.rotate_secret(current_user, source_id, data["keep_previous_hours"])
        return _answer_with_secret(source, secret, 200)


@blp.route("/intake-deliveries")
class IntakeDeliveriesViews(MethodView):
    @require_roles("admin")
    @blp.arguments(IntakeDeliveryListArgs, location="query")
    @blp.response(200, envelope(IntakeDeliverySchema))
    def get(self, args):
        """The deliveries log, newest first (admin): accepted and refused, with the reason."""
        return paginate(service.list_deliveries(args), args)


def _source_key() -> str:
    return "intake-source:" + (request.view_args or {}).get("source", "")


# A desk's deliveries are counted per source; calls naming no source per address too.
per_source_limit = limiter.limit(lambda: current_app.config["INTAKE_RATE_LIMIT"],
                                 key_func=_source_key)
per_address_limit = limiter.limit(lambda: current_app.config["INTAKE_ADDRESS_RATE_LIMIT"])


@blp.route("/intake/<source>")
class IntakeWebhookViews(MethodView):
    @per_source_limit
    @per_address_limit
    @blp.doc(**WEBHOOK_DOC)
    @blp.response(201, IntakeReceiptSchema)
    @blp.alt_response(200, schema=IntakeReceiptSchema,
                      description="The ticket was delivered before: the same job, nothing changed.")
    def post(self, source):
        """Deliver a service-desk ticket (signed with the source's secret; no sign-in)."""
        request.max_content_length = current_app.config["INTAKE_MAX_BODY_BYTES"]
        body = b""
        try:
            body = request.get_data(cache=True)
            delivery = service.receive(source, request.headers.get(TIMESTAMP_HEADER),
                                       request.headers.get(SIGNATURE_HEADER), body,
                                       request.remote_addr)
        except IntakeRefused as refusal:
            service.record_refusal(source, refusal, body, request.remote_addr)
            raise
        except RequestEntityTooLarge:
            too_large = IntakeRefused(413, "PAYLOAD_TOO_LARGE",
                                      "The body is larger than a ticket may be.")
            service.record_refusal(source, too_large, body, request.remote_addr)
            raise
        receipt = {"delivery_id": delivery.id, "job_id": delivery.job_id, "source": source,
                   "external_id": delivery.external_id, "outcome": delivery.outcome}
        return receipt, delivery.status, {
            "Location": url_for("jobs.JobByIdViews", job_id=delivery.job_id)}
