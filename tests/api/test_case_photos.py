"""Photos on knowledge cases (workday.md): POST /cases/{id}/photos by the author while the
case waits for review, through the job photos' pipeline and limits but without any flag;
listed with the case and served under the case's scope."""
from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from PIL import Image

from app.extensions import db
from app.models import AuditEntry, CasePhoto, Photo, Visit
from tests.api.test_app import assert_problem
from tests.api.test_cases import item
from tests.api.test_photos import (
    JPEG,
    MB,
    SVG,
    encode,
    exif,
    multipart,
    png_header_only,
    scene,
    stored_files,
)
from tests.support import ApiClient, statements_of


def as_user(app, user) -> ApiClient:
    return ApiClient(app.test_client()).use_token(user)


def upload(client: ApiClient, case: int, data: bytes | None = JPEG, **form):
    if data is not None:
        form["file"] = (data, "IMG_0001.jpg")
    return client.post(f"cases/{case}/photos", **multipart(**form))


def case_photos() -> list[CasePhoto]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(CasePhoto).order_by(CasePhoto.id)))


@pytest.fixture
def case(org):
    return item(org["eng_a1"], status="submitted", title="Breaker trips under load / 断路器跳闸")


def test_the_author_adds_a_photo_kept_with_its_copies_and_audited(app, org, case):
    taken = encode(scene(), "JPEG", exif=exif("2026:11:03 08:15:00", "+08:00", gps=(31.2, 121.4)).tobytes())
    response = upload(as_user(app, org["eng_a1"]), case.id, taken)
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    [row] = case_photos()
    assert (body["id"], body["case_id"], body["uploaded_by_id"]) == (row.id, case.id, org["eng_a1"].id)
    assert (body["width"], body["height"], body["content_type"]) == (800, 600, "image/jpeg")
    assert body["thumb_url"] == f"/api/v1/cases/{case.id}/photos/{row.id}/thumb"
    assert response.headers["Location"].endswith(body["image_url"])
    assert body["taken_at"] == "2026-11-03T00:15:00Z" and "gps" not in body
    assert len(stored_files(app)) == 3  # original, display copy, thumbnail
    # No verification: no job photo, no flag, no visit touched.
    assert "flags" not in body and db.session.scalar(sa.select(sa.func.count()).select_from(Photo)) == 0
    [entry] = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "case.photo_upload"))
    assert (entry.target_type, entry.target_id, entry.detail["photo_id"]) == ("case", case.id, row.id)


def test_photos_are_listed_with_the_case_and_on_their_own(app, org, case):
    client = as_user(app, org["eng_a1"])
    first = upload(client, case.id).get_json()
    second = upload(client, case.id, encode(scene(variant=1), "PNG")).get_json()
    listed = client.get(f"cases/{case.id}/photos").get_json()
    assert [p["id"] for p in listed["items"]] == [first["id"], second["id"]] and listed["total"] == 2
    assert client.get(f"cases/{case.id}").get_json()["photos"] == listed["items"]
    [found] = client.get("cases?status=submitted").get_json()["items"]
    assert found["photos"] == listed["items"]


def test_the_copies_are_served_without_metadata(app, org, case):
    client = as_user(app, org["eng_a1"])
    body = upload(client, case.id, encode(scene(), "JPEG", exif=exif().tobytes())).get_json()
    for url, longest in ((body["thumb_url"], 320), (body["image_url"], 800)):
        response = client.get(url)
        assert response.status_code == 200 and response.mimetype == "image/jpeg"
        assert "private" in response.headers["Cache-Control"]
        image = Image.open(io.BytesIO(response.data))
        assert max(image.size) <= longest and not image.getexif()


@pytest.mark.parametrize("who, status", [
    ("eng_a1", 200), ("sup_a", 200), ("admin", 200), ("eng_a2", 404), ("eng_b1", 404), ("sup_b", 404),
])
def test_a_submitted_cases_photos_follow_the_cases_scope(app, org, case, who, status):
    body = upload(as_user(app, org["eng_a1"]), case.id).get_json()
    client = as_user(app, org[who])
    for path in (f"cases/{case.id}/photos", body["thumb_url"], body["image_url"]):
        assert client.get(path).status_code == status


def test_an_approved_cases_photos_are_seen_by_everyone(app, org, case):
    body = upload(as_user(app, org["eng_a1"]), case.id).get_json()
    case.status = "approved"
    db.session.commit()
    for who in ("eng_b1", "sup_b", "loner"):
        client = as_user(app, org[who])
        assert client.get(body["thumb_url"]).status_code == 200
        assert [p["id"] for p in client.get(f"cases/{case.id}").get_json()["photos"]] == [body["id"]]


def test_a_photo_is_reached_through_its_own_case_only(app, org, case):
    body = upload(as_user(app, org["eng_a1"]), case.id).get_json()
    other = item(org["eng_a1"], status="approved", title="Other case")
    client = as_user(app, org["eng_a1"])
    assert_problem(client.get(f"cases/{other.id}/photos/{body['id']}/thumb"), 404, "NOT_FOUND")
    assert_problem(client.get(f"cases/{case.id}/photos/999999/image"), 404, "NOT_FOUND")
    # A case photo is no job photo, and the other way round.
    assert_problem(client.get(f"photos/{body['id']}/thumb"), 404, "NOT_FOUND")


@pytest.mark.parametrize("status", ["approved", "rejected"])
def test_a_reviewed_case_takes_no_more_photos(app, org, case, status):
    case.status = status
    db.session.commit()
    assert_problem(upload(as_user(app, org["eng_a1"]), case.id), 409, "CONFLICT")
    assert case_photos() == [] and stored_files(app) == []


@pytest.mark.parametrize("who, status", [
    ("eng_a2", 404), ("eng_b1", 404), ("sup_a", 403), ("admin", 403),
])
def test_only_the_author_adds_photos(app, org, case, who, status):
    response = upload(as_user(app, org[who]), case.id)
    assert response.status_code == status
    assert case_photos() == []


def test_anonymous_and_unknown_case(app, client, org):
    assert_problem(upload(client, 1), 401, "UNAUTHORIZED")
    assert_problem(upload(as_user(app, org["eng_a1"]), 999_999), 404, "NOT_FOUND")
    assert stored_files(app) == []


@pytest.mark.parametrize("data, status, code", [
    (SVG, 415, "UNSUPPORTED_MEDIA_TYPE"),
    (b"%PDF-1.7\n", 415, "UNSUPPORTED_MEDIA_TYPE"),
    (b"", 415, "UNSUPPORTED_MEDIA_TYPE"),
    (png_header_only(8000, 5001), 422, "IMAGE_TOO_LARGE"),
    (JPEG[: len(JPEG) // 2], 422, "IMAGE_INVALID"),
    (b"\xff\xd8\xff" + b"\x00" * (25 * MB), 413, "PAYLOAD_TOO_LARGE"),
], ids=["svg", "pdf", "empty", "over-40-mp", "truncated", "over-25-mb"])
def test_the_job_photos_limits_hold(app, org, case, data, status, code):
    assert_problem(upload(as_user(app, org["eng_a1"]), case.id, data), status, code)
    assert case_photos() == [] and stored_files(app) == []


@pytest.mark.parametrize("form, field", [
    ({"kind": "after"}, "kind"), ({"case_id": "3"}, "case_id"),
])
def test_bad_form_fields_are_refused(app, org, case, form, field):
    problem = assert_problem(upload(as_user(app, org["eng_a1"]), case.id, **form), 422, "VALIDATION_ERROR")
    assert field in problem["errors"]
    assert case_photos() == [] and stored_files(app) == []


def test_a_missing_file_and_a_json_body_are_refused(app, org, case):
    client = as_user(app, org["eng_a1"])
    problem = assert_problem(upload(client, case.id, None), 422, "VALIDATION_ERROR")
    assert "file" in problem["errors"]
    assert_problem(client.post(f"cases/{case.id}/photos", json={"file": "x"}), 415, "UNSUPPORTED_MEDIA_TYPE")


def test_a_replayed_upload_keeps_one_photo(app, org, case):
    client = as_user(app, org["eng_a1"])
    headers = {"Idempotency-Key": "5b7d3c1e-8f2a-4c6b-9e0d-1a2b3c4d5e6f"}
    first = client.post(f"cases/{case.id}/photos", headers=headers, **multipart(file=(JPEG, "a.jpg")))
    again = client.post(f"cases/{case.id}/photos", headers=headers, **multipart(file=(JPEG, "a.jpg")))
    assert first.status_code == again.status_code == 201 and first.get_json() == again.get_json()
    assert len(case_photos()) == 1 and len(stored_files(app)) == 3


def test_the_case_list_costs_the_same_statements_with_photos(app, org):
    client = as_user(app, org["eng_a1"])
    cases = [item(org["eng_a1"], status="submitted", title=f"Case {n}") for n in range(4)]
    client.get("cases")
    before, _ = statements_of(client, "cases")
    for case in cases:
        assert upload(client, case.id).status_code == 201
    after, page = statements_of(client, "cases")
    assert all(len(c["photos"]) == 1 for c in page["items"]) and after == before
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Visit)) == 0


def test_the_photo_list_costs_the_same_statements_for_1_and_3_photos(app, org, case):
    client = as_user(app, org["eng_a1"])
    upload(client, case.id)
    one, page = statements_of(client, f"cases/{case.id}/photos")
    for variant in (1, 2):
        upload(client, case.id, encode(scene(variant=variant), "JPEG"))
    three, page = statements_of(client, f"cases/{case.id}/photos")
    assert page["total"] == 3 and one == three
