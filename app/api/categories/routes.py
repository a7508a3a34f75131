"""/categories: job categories and their close checklists."""
from __future__ import annotations

from flask import url_for
from flask.views import MethodView
from flask_login import current_user

from app.api.categories.schemas import CategoryListArgs, CategoryPutSchema, CategorySchema
from app.api.common import envelope
from app.api.security import require_roles
from app.api_base import Blueprint
from app.services import categories as service

blp = Blueprint("categories", __name__, url_prefix="/api/v1/categories",
                description="Job categories and close checklists")


@blp.route("")
class CategoriesViews(MethodView):
    @require_roles()
    @blp.arguments(CategoryListArgs, location="query")
    @blp.response(200, envelope(CategorySchema))
    def get(self, args):
        """List the job categories (every signed-in user), by key."""
        rules = service.list_categories()
        start = (args["page"] - 1) * args["per_page"]
        return {"items": rules[start:start + args["per_page"]], "page": args["page"],
                "per_page": args["per_page"], "total": len(rules)}


@blp.route("/<string:key>")
class CategoryByKeyViews(MethodView):
    @require_roles("admin")
    @blp.arguments(CategoryPutSchema)
    @blp.response(200, CategorySchema, description="Replaced (a default or a stored category).")
    @blp.alt_response(201, schema=CategorySchema, description="Created, with Location.")
    def put(self, data, key):
        """Create or replace a category (admin; audited): 201 when the key was new."""
        rule, created = service.put_category(current_user, key, data)
        if created:
            return rule, 201, {"Location": url_for("categories.CategoryByKeyViews", key=rule.key)}
        return rule
