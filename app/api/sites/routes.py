"""/sites: customer sites and their geofences."""
from __future__ import annotations

import sqlalchemy as sa
from flask import request, url_for
from flask.views import MethodView
from flask_login import current_user

from app.api.common import accepts_body, envelope, paginate
from app.api.sites.schemas import (
    SiteCreateSchema,
    SiteImportResultSchema,
    SiteListArgs,
    SitePatchSchema,
    SiteSchema,
)
from app.api_base import Blueprint
from app.errors import Invalid
from app.models import Site
from app.scope import get_visible
from app.services import sites as service
from app.services.auth import require_roles



blp = Blueprint("sites", __name__, url_prefix="/api/v1/sites", description="Customer sites")

IMPORT_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {"type": "object", "required": ["file"],
                       "properties": {"file": {"type": "string", "format": "binary"}}}
        },
        "text/csv": {"schema": {"type": "string"}},
    },
}


@blp.route("")
class SitesViews(MethodView):
    @require_roles("supervisor", "admin")
    @blp.arguments(SiteCreateSchema)
    @blp.response(201, SiteSchema)
    def post(self, data):
        """Create a site (supervisor, admin)."""
        site = service.create_site(current_user, data)
        return site, 201, {"Location": url_for("sites.SiteByIdViews", site_id=site.id)}

    @require_roles()
    @blp.arguments(SiteListArgs, location="query")
    @blp.response(200, envelope(SiteSchema))
    def get(self, args):
        """List sites (every signed-in user)."""
        return paginate(service.list_sites(args), args)


@blp.route("/<int:site_id>")
class SiteByIdViews(MethodView):
    @require_roles()
    @blp.response(200, SiteSchema)
    def get(self, site_id):
        """One site."""
        return get_visible(Site, site_id, sa.true())

    @require_roles("supervisor", "admin")
    @blp.arguments(SitePatchSchema)
    @blp.response(200, SiteSchema)
    def patch(self, data, site_id):
        """Change a site (supervisor, admin)."""
        return service.update_site(get_visible(Site, site_id, sa.true()), data)


@blp.route("/import")
class SitesImportViews(MethodView):
    @require_roles("admin")
    @blp.doc(requestBody=IMPORT_BODY)
    @blp.response(201, SiteImportResultSchema)
    def post(self):
        """Import sites from CSV (admin): every row valid, or nothing imported."""
        if request.mimetype == "multipart/form-data":
            upload = request.files.get("file")
            if upload is None:
                raise Invalid("Attach the CSV as the form field `file`.", {"file": ["Missing data for required field."]})
            raw = upload.read()
        else:
            raw = request.get_data()
        sites = service.import_sites(current_user, raw, SiteCreateSchema())
        return {"imported": len(sites), "items": sites}, 201


accepts_body("sites.SitesImportViews", "multipart/form-data", "text/csv")
