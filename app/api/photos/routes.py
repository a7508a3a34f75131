"""Photo evidence: upload to a job, list a job's photos, serve the three copies."""
from __future__ import annotations

from flask import Response, send_file, url_for
from flask.views import MethodView
from flask_login import current_user

from app.api.cases.schemas import CasePhotoSchema
from app.api.common import PageArgs, accepts_body, envelope, paginate
from app.api.photos.schemas import CasePhotoUploadSchema, PhotoSchema, PhotoUploadSchema
from app.api.security import require_roles
from app.api_base import Blueprint
from app.models import CasePhoto, Photo
from app.services import photos as service

blp = Blueprint("photos", __name__, url_prefix="/api/v1", description="Photo evidence")

# The copies of a photo never change; only the caller's own browser may keep them.
CACHE_SECONDS = 3600
BINARY = {"schema": {"type": "string", "format": "binary"}}
JPEG = {"description": "A JPEG without metadata.", "content": {"image/jpeg": BINARY}}
ORIGINAL = {"description": "JPEG, PNG, WebP or HEIC/HEIF, as uploaded.",
            "content": {"image/*": BINARY}}


@blp.route("/jobs/<int:job_id>/photos")
class JobPhotosViews(MethodView):
    @require_roles("engineer")
    @blp.arguments(PhotoUploadSchema, location="form", content_type="multipart/form-data")
    @blp.response(201, PhotoSchema)
    def post(self, data, job_id):
        """Upload a photo to one of your jobs (engineer of the job)."""
        photo = service.upload_photo(current_user, job_id, data["kind"], data["file"].read(),
                                     release_first=True)
        return photo, 201, {"Location": url_for("photos.PhotoImageViews", photo_id=photo.id)}

    @require_roles()
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, envelope(PhotoSchema))
    def get(self, args, job_id):
        """A job's photos, newest first (whoever may see the job)."""
        return paginate(service.list_photos(current_user, job_id), args)


@blp.route("/photos/<int:photo_id>/thumb")
class PhotoThumbViews(MethodView):
    @require_roles()
    @blp.doc(responses={200: JPEG})
    def get(self, photo_id):
        """The thumbnail, long edge at most 320 px (whoever may see the job)."""
        photo = service.visible_photo(current_user, photo_id)
        return _serve(photo, photo.thumb_key, "image/jpeg", f"photo-{photo.id}-thumb.jpg")


@blp.route("/photos/<int:photo_id>/image")
class PhotoImageViews(MethodView):
    @require_roles()
    @blp.doc(responses={200: JPEG})
    def get(self, photo_id):
        """The display copy: upright, long edge at most 1600 px, no metadata."""
        photo = service.visible_photo(current_user, photo_id)
        return _serve(photo, photo.display_key, "image/jpeg", f"photo-{photo.id}.jpg")


@blp.route("/photos/<int:photo_id>/original")
class PhotoOriginalViews(MethodView):
    @require_roles("supervisor", "admin")
    @blp.doc(responses={200: ORIGINAL})
    def get(self, photo_id):
        """The bytes as uploaded, EXIF included (supervisor of the engineer, admin)."""
        photo = service.original_photo(current_user, photo_id)
        return _serve(photo, photo.original_key, photo.content_type,
                      service.original_name(photo), attachment=True)


@blp.route("/cases/<int:case_id>/photos")
class CasePhotosViews(MethodView):
    @require_roles("engineer")
    @blp.arguments(CasePhotoUploadSchema, location="form", content_type="multipart/form-data")
    @blp.response(201, CasePhotoSchema)
    def post(self, data, case_id):
        """Add a photo to your case while it waits for review (its author).

        The job photos' types and limits; no verification flags.
        """
        photo = service.upload_case_photo(current_user, case_id, data["file"].read(),
                                          release_first=True)
        return photo, 201, {"Location": url_for("photos.CasePhotoImageViews", case_id=case_id,
                                                photo_id=photo.id)}

    @require_roles()
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, envelope(CasePhotoSchema))
    def get(self, args, case_id):
        """A case's photos, oldest first (whoever may see the case)."""
        return paginate(service.list_case_photos(current_user, case_id), args)


@blp.route("/cases/<int:case_id>/photos/<int:photo_id>/thumb")
class CasePhotoThumbViews(MethodView):
    @require_roles()
    @blp.doc(responses={200: JPEG})
    def get(self, case_id, photo_id):
        """A case photo's thumbnail, long edge at most 320 px (whoever may see the case)."""
        photo = service.visible_case_photo(current_user, case_id, photo_id)
        return _serve(photo, photo.thumb_key, "image/jpeg", f"case-photo-{photo.id}-thumb.jpg")


@blp.route("/cases/<int:case_id>/photos/<int:photo_id>/image")
class CasePhotoImageViews(MethodView):
    @require_roles()
    @blp.doc(responses={200: JPEG})
    def get(self, case_id, photo_id):
        """A case photo's display copy: upright, long edge at most 1600 px, no metadata."""
        photo = service.visible_case_photo(current_user, case_id, photo_id)
        return _serve(photo, photo.display_key, "image/jpeg", f"case-photo-{photo.id}.jpg")


def _serve(photo: Photo | CasePhoto, key: str, mimetype: str, name: str, attachment: bool = False) -> Response:
    """A stored file with headers that keep it an image in the caller's private cache."""
    # The backend's stream (in pieces from a bucket) is closed with the response.
    stream = service.open_file(key)
    response = send_file(stream, mimetype=mimetype, as_attachment=attachment,
                         download_name=name, etag=f"{photo.sha256}-{name}", conditional=True,
                         max_age=CACHE_SECONDS)
    size = getattr(stream, "size", None)
    if response.status_code == 200 and size is not None:
        response.content_length = size
    response.cache_control.public = False
    response.cache_control.private = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


accepts_body("photos.JobPhotosViews", "multipart/form-data")
accepts_body("photos.CasePhotosViews", "multipart/form-data")
