"""/trainings: trainings held and who attended them."""
from __future__ import annotations

from flask import url_for
from flask.views import MethodView
from flask_login import current_user

from app.api.common import envelope, paginate
from app.api.security import require_roles
from app.api.trainings.schemas import (
    TrainingCreateSchema,
    TrainingListArgs,
    TrainingPatchSchema,
    TrainingSchema,
)
from app.api_base import Blueprint
from app.services import trainings as service

blp = Blueprint("trainings", __name__, url_prefix="/api/v1/trainings",
                description="Trainings and their attendees")


@blp.route("")
class TrainingsViews(MethodView):
    @require_roles("supervisor", "admin")
    @blp.arguments(TrainingCreateSchema)
    @blp.response(201, TrainingSchema)
    def post(self, data):
        """Record a training (supervisor: of their team's engineers; admin)."""
        training = service.create_training(current_user, data)
        return training, 201, {"Location": url_for("trainings.TrainingByIdViews", training_id=training.id)}

    @require_roles()
    @blp.arguments(TrainingListArgs, location="query")
    @blp.response(200, envelope(TrainingSchema))
    def get(self, args):
        """List trainings attended within your scope (and those you recorded)."""
        return paginate(service.list_trainings(current_user, args), args)


@blp.route("/<int:training_id>")
class TrainingByIdViews(MethodView):
    @require_roles()
    @blp.response(200, TrainingSchema)
    def get(self, training_id):
        """One training."""
        return service.get_training(current_user, training_id)

    @require_roles("supervisor", "admin")
    @blp.arguments(TrainingPatchSchema)
    @blp.response(200, TrainingSchema)
    def patch(self, data, training_id):
        """Correct a training (audited)."""
        return service.update_training(current_user, training_id, data)

    @require_roles("supervisor", "admin")
    @blp.response(204)
    def delete(self, training_id):
        """Remove a training recorded by mistake (audited)."""
        service.delete_training(current_user, training_id)
