"""/users: people, their roles and teams."""
from __future__ import annotations

from flask import url_for
from flask.views import MethodView
from flask_login import current_user

from app.api import security
from app.api.common import envelope, paginate
from app.api.security import require_roles
from app.api.users.schemas import UserCreateSchema, UserListArgs, UserPatchSchema, UserSchema
from app.api_base import Blueprint
from app.scope import get_visible_user
from app.services import users as service

blp = Blueprint("users", __name__, url_prefix="/api/v1/users", description="People and teams")


@blp.route("")
class UsersViews(MethodView):
    @require_roles("admin")
    @blp.arguments(UserCreateSchema)
    @blp.response(201, UserSchema)
    def post(self, data):
        """Create a user (admin)."""
        user = service.create_user(current_user, data)
        return user, 201, {"Location": url_for("users.UserByIdViews", user_id=user.id)}

    @require_roles("supervisor", "admin")
    @blp.arguments(UserListArgs, location="query")
    @blp.response(200, envelope(UserSchema))
    def get(self, args):
        """List users: a supervisor's own team, or everyone for an admin."""
        return paginate(service.list_users(current_user, args), args)


@blp.route("/<int:user_id>")
class UserByIdViews(MethodView):
    @require_roles()
    @blp.response(200, UserSchema)
    def get(self, user_id):
        """One user within scope."""
        return get_visible_user(current_user, user_id)

    @require_roles()
    @blp.arguments(UserPatchSchema)
    @blp.response(200, UserSchema)
    def patch(self, data, user_id):
        """Change a user (admin), or your own name, password, locale and phone."""
        return service.update_user(current_user, user_id, data, address=security.client_address(),
                                   session_id=security.session_id())
