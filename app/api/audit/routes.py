"""/audit: the append-only, hash-chained audit log (admins read it; nobody edits it)."""
from __future__ import annotations

import sqlalchemy as sa
from flask.views import MethodView

from app.api.audit.schemas import AuditEntrySchema, AuditListArgs
from app.api.common import envelope, paginate
from app.api.security import require_roles
from app.api_base import Blueprint
from app.models import AuditEntry

blp = Blueprint("audit", __name__, url_prefix="/api/v1/audit", description="Audit log")


@blp.route("")
class AuditViews(MethodView):
    @require_roles("admin")
    @blp.arguments(AuditListArgs, location="query")
    @blp.response(200, envelope(AuditEntrySchema))
    def get(self, args):
        """The audit log, newest first (admin)."""
        query = sa.select(AuditEntry).order_by(AuditEntry.id.desc())
        for name in ("target_type", "target_id", "action"):
            if name in args:
                query = query.where(getattr(AuditEntry, name) == args[name])
        return paginate(query, args)
