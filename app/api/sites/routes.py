"""/sites: customer sites and their geofences."""
from __future__ import annotations

import sqlalchemy as sa
from flask import url_for
from flask.views import MethodView
from flask_login import current_user

from app.api.common import CSV_UPLOAD_BODY, accepts_body, csv_upload, envelope, paginate
from app.api.security import require_roles
from app.api.sites.schemas import (
    SiteCreateSchema,
    SiteImportResultSchema,
    SiteListArgs,
    SitePatchSchema,
    SiteSchema,
)
from app.api_base import Blueprint
from app.models import Site
from app.scope import get_visible
from app.services import sites as service



blp = Blueprint("sites", __name__, url_prefix="/api/v1/sites", description="Customer sites")


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
    @blp.doc(requestBody=CSV_UPLOAD_BODY)
    @blp.response(201, SiteImportResultSchema)
    def post(self):
        """Import sites from CSV (admin): every row valid, or nothing imported."""
        sites = service.import_sites(current_user, csv_upload().read(), SiteCreateSchema())
        return {"imported": len(sites), "items": sites}, 201


accepts_body("sites.SitesImportViews", "multipart/form-data", "text/csv")
