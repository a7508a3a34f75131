"""/alerts: early warnings for supervisors, and the keyword watch list."""
from __future__ import annotations

from flask import url_for
from flask.views import MethodView
from flask_login import current_user

from app.api.alerts.schemas import (
    AlertActionItemSchema,
    AlertDismissSchema,
    AlertListArgs,
    AlertSchema,
    AlertWithReviewSchema,
    WatchListSchema,
)
from app.api.common import envelope, paginate
from app.api.security import require_roles
from app.api_base import Blueprint
from app.services import alerts as service

blp = Blueprint("alerts", __name__, url_prefix="/api/v1/alerts", description="Early warnings")


@blp.route("")
class AlertsViews(MethodView):
    @require_roles("supervisor", "admin")
    @blp.arguments(AlertListArgs, location="query")
    @blp.response(200, envelope(AlertSchema))
    def get(self, args):
        """List early warnings on your team (supervisor) or everyone's (admin), newest first;
        overdue first contacts are evaluated first."""
        return paginate(service.list_alerts(current_user, args), args)


@blp.route("/<int:alert_id>/dismiss")
class AlertDismissViews(MethodView):
    @require_roles("supervisor", "admin")
    @blp.arguments(AlertDismissSchema)
    @blp.response(200, AlertSchema)
    def post(self, data, alert_id):
        """Dismiss a warning, with an optional note; a repeat keeps the first time and note."""
        return service.dismiss_alert(current_user, alert_id, data.get("note"))


@blp.route("/<int:alert_id>/action-item")
class AlertActionItemViews(MethodView):
    @require_roles("supervisor", "admin")
    @blp.arguments(AlertActionItemSchema)
    @blp.response(201, AlertWithReviewSchema)
    def post(self, data, alert_id):
        """Turn a warning into a review action item (engineer's supervisor, admin; audited).

        The review must be one of the alert's engineer; the warning is dismissed by it.
        """
        alert = service.action_item_from_alert(current_user, alert_id, data)
        alert.review_id = data["review_id"]
        return alert, 201, {"Location": url_for("reviews.ReviewByIdViews", review_id=data["review_id"])}


@blp.route("/watch-list")
class WatchListViews(MethodView):
    @require_roles("admin")
    @blp.response(200, WatchListSchema)
    def get(self):
        """The watch-list terms (admin)."""
        return {"terms": service.watch_list()}

    @require_roles("admin")
    @blp.arguments(WatchListSchema)
    @blp.response(200, WatchListSchema)
    def put(self, data):
        """Replace the watch list (admin); applies to texts saved from now on."""
        return {"terms": service.replace_watch_list(current_user, data["terms"])}
