"""/cases: submit, correct, review, read and search knowledge cases and documents
(api.md, Knowledge; kpi.md: knowledge_items and case_quality use approved items)."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from app.api.cases.schemas import CaseCreateSchema
from app.extensions import db
from app.models import AuditEntry, KnowledgeItem, KnowledgeTag, User
from app.models.knowledge import KnowledgeTerm
from app.models.types import utcnow
from app.services import knowledge
from tests.api.test_app import assert_problem
from tests.support import ApiClient, statements_of

LEAK = "空调室内机漏水处理"


def body(**changes: Any) -> dict[str, Any]:
    """A valid POST /cases body; a value of ... drops the field."""
    data = {"kind": "case", "title": LEAK, "symptom": "室内机滴水", "cause": "排水管堵塞",
            "solution": "疏通排水管", "tags": ["HVAC", "漏水"], **changes}
    return {k: v for k, v in data.items() if v is not ...}


def item(author: User, status: str = "approved", quality: int = 4, **changes: Any) -> KnowledgeItem:
    """An item submitted through the service (so it is indexed), then reviewed as asked."""
    made = knowledge.submit_case(author, CaseCreateSchema().load(body(**changes)))
    if status != "submitted":
        made.status, made.quality = status, quality
        made.reviewed_by_id, made.reviewed_at = author.supervisor_id, utcnow()
    db.session.commit()
    return made


def as_user(app, user: User) -> ApiClient:
    return ApiClient(app.test_client()).use_token(user)


def ids(response) -> list[int]:
    assert response.status_code == 200, response.get_json()
    return [entry["id"] for entry in response.get_json()["items"]]


def counts() -> tuple[int, int, int]:
    return tuple(db.session.scalar(sa.select(sa.func.count()).select_from(model))
                 for model in (KnowledgeItem, KnowledgeTerm, KnowledgeTag))


def fresh(made: KnowledgeItem) -> KnowledgeItem:
    db.session.expire_all()
    return db.session.get(KnowledgeItem, made.id)


def terms_of(made: KnowledgeItem) -> dict[str, int]:
    return dict(db.session.execute(
        sa.select(KnowledgeTerm.term, KnowledgeTerm.weight).where(KnowledgeTerm.item_id == made.id)).all())


def tags_of(made: KnowledgeItem) -> set[str]:
    return set(db.session.scalars(sa.select(KnowledgeTag.tag).where(KnowledgeTag.item_id == made.id)))


def reviews() -> list[AuditEntry]:
    return list(db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "case.review").order_by(AuditEntry.id)))


# --- POST /cases ----------------------------------------------------------------------

@pytest.mark.parametrize("auth", ["cookie", "token"])
def test_an_engineer_submits_a_case(app, client, org, factory, auth):
    job = factory.job(engineer=org["eng_a1"])
    client.login(org["eng_a1"]) if auth == "cookie" else client.use_token(org["eng_a1"])
    response = client.post("cases", json=body(tags=[" HVAC ", "漏水", "hvac", "Air  Con"], job_id=job.id))
    assert response.status_code == 201, response.get_json()
    data = response.get_json()
    assert response.headers["Location"] == f"/api/v1/cases/{data['id']}"
    assert data == {
        "id": data["id"], "kind": "case", "title": LEAK, "symptom": "室内机滴水", "cause": "排水管堵塞",
        "solution": "疏通排水管", "tags": ["hvac", "漏水", "air con"], "job_id": job.id,
        "author_id": org["eng_a1"].id, "status": "submitted", "quality": None, "review_note": None,
        "reviewed_by_id": None, "reviewed_at": None, "photos": [],
        "created_at": data["created_at"], "updated_at": data["updated_at"]}
    assert data["created_at"].endswith("Z")
    row = db.session.get(KnowledgeItem, data["id"])
    assert (row.author_id, row.status, row.tags) == (org["eng_a1"].id, "submitted", ["hvac", "漏水", "air con"])
    assert " 漏水 " in row.search_terms and " hvac " in row.search_terms
    terms = terms_of(row)
    assert terms["漏水"] == 3 and terms["空调"] == 3  # in the title
    assert terms["hvac"] == 2 and terms["con"] == 2  # tags
    assert terms["滴水"] == 1 and terms["疏通"] == 1  # symptom, solution
    assert tags_of(row) == {"hvac", "漏水", "air con"}
    assert client.get(response.headers["Location"]).get_json() == data


def test_a_case_takes_the_edges_of_each_field(app, client, org):
    client.use_token(org["eng_a1"])
    tags = [f"tag{n}" for n in range(9)] + ["t" * 30]
    response = client.post("cases", json=body(kind="document", title="t" * 200, symptom=None, cause=...,
                                              solution="s" * 10000, tags=tags, job_id=None))
    assert response.status_code == 201, response.get_json()
    data = response.get_json()
    assert (data["kind"], data["symptom"], data["cause"], data["tags"]) == ("document", None, None, tags)
    assert client.post("cases", json=body(tags=[])).get_json()["tags"] == []
    # Eleven tags that are ten once normalised are ten tags.
    eleven = [f"tag{n}" for n in range(10)] + ["TAG0 "]
    assert client.post("cases", json=body(tags=eleven)).get_json()["tags"] == eleven[:10]


@pytest.mark.parametrize("changes, field", [
    ({"kind": ...}, "kind"), ({"kind": "howto"}, "kind"),
    ({"title": ...}, "title"), ({"title": "   "}, "title"), ({"title": "t" * 201}, "title"),
    ({"title": None}, "title"), ({"solution": ...}, "solution"), ({"solution": ""}, "solution"),
    ({"solution": "s" * 10001}, "solution"), ({"symptom": "s" * 5001}, "symptom"),
    ({"cause": 5}, "cause"),
    ({"tags": ...}, "tags"), ({"tags": "hvac"}, "tags"), ({"tags": [f"t{n}" for n in range(11)]}, "tags"),
    ({"tags": [""]}, "tags"), ({"tags": ["   "]}, "tags"), ({"tags": ["t" * 31]}, "tags"),
    ({"tags": [7]}, "tags"), ({"tags": None}, "tags"),
    ({"job_id": "1"}, "job_id"), ({"job_id": 0}, "job_id"), ({"job_id": 999999}, "job_id"),
    ({"status": "approved"}, "status"), ({"author_id": 1}, "author_id"), ({"quality": 5}, "quality"),
])
def test_bad_input_is_refused_and_nothing_written(app, client, org, changes, field):
    client.use_token(org["eng_a1"])
    response = client.post("cases", json=body(**changes))
    problem = assert_problem(response, 422, "VALIDATION_ERROR")
    assert field in problem["errors"]
    assert counts() == (0, 0, 0)


@pytest.mark.parametrize("owner", ["eng_a2", "eng_b1", None])
def test_a_case_names_only_a_job_its_author_may_see(app, client, org, factory, owner):
    job = factory.job(engineer=org[owner] if owner else None)
    client.use_token(org["eng_a1"])
    problem = assert_problem(client.post("cases", json=body(job_id=job.id)), 422, "VALIDATION_ERROR")
    assert "job_id" in problem["errors"]
    assert counts() == (0, 0, 0)


@pytest.mark.parametrize("who", ["sup_a", "admin"])
def test_only_engineers_submit(app, client, org, who):
    client.use_token(org[who])
    assert_problem(client.post("cases", json=body()), 403, "FORBIDDEN")
    assert counts() == (0, 0, 0)


def test_a_cookie_session_must_send_the_csrf_token(app, client, org):
    client.login(org["eng_a1"])
    assert_problem(client.post("cases", json=body(), csrf=False), 403, "CSRF_FAILED")
    assert_problem(client.post("cases", json=body(), csrf=False, headers={"X-CSRF-Token": "forged"}),
                   403, "CSRF_FAILED")
    assert counts() == (0, 0, 0)


# --- PATCH /cases/{id} ----------------------------------------------------------------

def test_the_author_corrects_a_submitted_case_and_search_follows(app, client, org):
    made = item(org["eng_a1"], status="submitted")
    client.use_token(org["eng_a1"])
    response = client.patch(f"cases/{made.id}", json={
        "title": "Compressor noise", "symptom": None, "tags": ["Noise", "noise", "压缩机"]})
    assert response.status_code == 200, response.get_json()
    data = response.get_json()
    assert (data["title"], data["symptom"], data["cause"], data["tags"], data["status"]) == (
        "Compressor noise", None, "排水管堵塞", ["noise", "压缩机"], "submitted")
    row = fresh(made)
    assert row.title == "Compressor noise" and row.symptom is None
    terms = terms_of(row)
    assert terms["compressor"] == 3 and terms["压缩"] == 2
    assert "漏水" not in terms and "滴水" not in terms  # the old title and symptom are gone
    assert tags_of(row) == {"noise", "压缩机"}
    assert ids(client.get("cases", query_string={"q": "漏水"})) == []
    assert ids(client.get("cases", query_string={"q": "compressor"})) == [made.id]
    assert ids(client.get("cases", query_string={"tag": "hvac"})) == []
    assert ids(client.get("cases", query_string={"tag": "NOISE"})) == [made.id]


def test_the_author_may_link_and_unlink_a_job(app, client, org, factory):
    made = item(org["eng_a1"], status="submitted")
    own, other = factory.job(engineer=org["eng_a1"]), factory.job(engineer=org["eng_a2"])
    client.use_token(org["eng_a1"])
    assert client.patch(f"cases/{made.id}", json={"job_id": own.id}).get_json()["job_id"] == own.id
    problem = assert_problem(client.patch(f"cases/{made.id}", json={"job_id": other.id}), 422, "VALIDATION_ERROR")
    assert "job_id" in problem["errors"]
    assert fresh(made).job_id == own.id
    assert client.patch(f"cases/{made.id}", json={"job_id": None}).get_json()["job_id"] is None


@pytest.mark.parametrize("status", ["approved", "rejected"])
def test_a_reviewed_case_cannot_be_changed(app, client, org, status):
    made = item(org["eng_a1"], status=status)
    client.use_token(org["eng_a1"])
    assert_problem(client.patch(f"cases/{made.id}", json={"title": "Later"}), 409, "CONFLICT")
    assert fresh(made).title == LEAK


@pytest.mark.parametrize("who", ["eng_a2", "eng_b1", "sup_a", "sup_b", "admin"])
@pytest.mark.parametrize("status", ["submitted", "approved"])
def test_nobody_but_the_author_changes_a_case(app, client, org, who, status):
    made = item(org["eng_a1"], status=status)
    client.use_token(org[who])
    assert_problem(client.patch(f"cases/{made.id}", json={"title": "Mine now"}), 404, "NOT_FOUND")
    assert fresh(made).title == LEAK


@pytest.mark.parametrize("changes, field", [
    ({"title": ""}, "title"), ({"title": None}, "title"), ({"solution": None}, "solution"),
    ({"tags": [f"t{n}" for n in range(11)]}, "tags"), ({"tags": None}, "tags"),
    ({"kind": "memo"}, "kind"), ({"status": "approved"}, "status"), ({"quality": 5}, "quality"),
    ({"author_id": 3}, "author_id"),
])
def test_bad_corrections_are_refused_and_nothing_changes(app, client, org, changes, field):
    made = item(org["eng_a1"], status="submitted")
    before = (terms_of(made), tags_of(made))
    client.use_token(org["eng_a1"])
    problem = assert_problem(client.patch(f"cases/{made.id}", json=changes), 422, "VALIDATION_ERROR")
    assert field in problem["errors"]
    row = fresh(made)
    assert (row.title, row.status, row.author_id, row.tags) == (LEAK, "submitted", org["eng_a1"].id, ["hvac", "漏水"])
    assert (terms_of(made), tags_of(made)) == before


def test_patching_an_unknown_case_is_404(app, client, org):
    client.use_token(org["eng_a1"])
    assert_problem(client.patch("cases/999999", json={"title": "x"}), 404, "NOT_FOUND")


# --- POST /cases/{id}/review ------------------------------------------------------------

@pytest.mark.parametrize("who", ["sup_a", "admin"])
def test_the_authors_supervisor_or_an_admin_approves(app, client, org, who):
    made = item(org["eng_a1"], status="submitted")
    client.use_token(org[who])
    response = client.post(f"cases/{made.id}/review", json={"decision": "approve", "quality": 5, "note": " 清晰 "})
    assert response.status_code == 200, response.get_json()
    data = response.get_json()
    assert (data["status"], data["quality"], data["review_note"], data["reviewed_by_id"]) == (
        "approved", 5, "清晰", org[who].id)
    row = fresh(made)
    assert (row.status, row.quality, row.review_note, row.reviewed_by_id) == ("approved", 5, "清晰", org[who].id)
    assert abs(row.reviewed_at - utcnow()) < timedelta(minutes=1)
    [entry] = reviews()
    assert (entry.actor_id, entry.target_type, entry.target_id) == (org[who].id, "case", made.id)
    assert entry.detail == {"decision": "approve", "quality": 5, "note": "清晰", "author_id": org["eng_a1"].id}


def test_a_rejection_is_kept_with_its_quality_and_the_item_stays_private(app, client, org):
    made = item(org["eng_a1"], status="submitted")
    client.use_token(org["sup_a"])
    response = client.post(f"cases/{made.id}/review", json={"decision": "reject", "quality": 1})
    assert response.status_code == 200
    assert (response.get_json()["status"], response.get_json()["review_note"]) == ("rejected", None)
    assert (fresh(made).status, fresh(made).quality) == ("rejected", 1)
    assert reviews()[0].detail["decision"] == "reject"
    assert_problem(as_user(app, org["eng_a2"]).get(f"cases/{made.id}"), 404, "NOT_FOUND")


@pytest.mark.parametrize("status", ["approved", "rejected"])
def test_a_case_is_reviewed_once(app, client, org, status):
    made = item(org["eng_a1"], status=status, quality=3)
    client.use_token(org["sup_a"])
    assert_problem(client.post(f"cases/{made.id}/review", json={"decision": "approve", "quality": 5}),
                   409, "CONFLICT")
    assert (fresh(made).status, fresh(made).quality) == (status, 3)
    assert reviews() == []


@pytest.mark.parametrize("status", ["submitted", "approved"])
def test_another_teams_supervisor_cannot_review(app, client, org, status):
    made = item(org["eng_a1"], status=status)
    client.use_token(org["sup_b"])
    assert_problem(client.post(f"cases/{made.id}/review", json={"decision": "approve", "quality": 5}),
                   404, "NOT_FOUND")
    assert fresh(made).status == status and reviews() == []


@pytest.mark.parametrize("who", ["eng_a1", "eng_a2"])
def test_engineers_cannot_review(app, client, org, who):
    made = item(org["eng_a1"], status="submitted")
    client.use_token(org[who])
    assert_problem(client.post(f"cases/{made.id}/review", json={"decision": "approve", "quality": 5}),
                   403, "FORBIDDEN")
    assert fresh(made).status == "submitted"


def test_nobody_reviews_their_own_item(app, client, org, factory):
    """An admin who wrote an item as an engineer cannot approve it."""
    author = factory.user("engineer", supervisor=org["sup_a"])
    made = item(author, status="submitted")
    author.role, author.level, author.work_type, author.supervisor_id = "admin", None, None, None
    db.session.commit()
    client.use_token(author)
    assert_problem(client.post(f"cases/{made.id}/review", json={"decision": "approve", "quality": 5}),
                   403, "FORBIDDEN")
    assert fresh(made).status == "submitted" and reviews() == []


@pytest.mark.parametrize("review", [
    {"decision": "approve"}, {"quality": 3}, {"decision": "maybe", "quality": 3},
    {"decision": "approve", "quality": 0}, {"decision": "approve", "quality": 6},
    {"decision": "approve", "quality": 3.5}, {"decision": "approve", "quality": "3"},
    {"decision": "approve", "quality": True}, {"decision": "approve", "quality": 3, "note": "n" * 2001},
    {"decision": "approve", "quality": 3, "status": "approved"},
])
def test_bad_reviews_are_refused_and_nothing_changes(app, client, org, review):
    made = item(org["eng_a1"], status="submitted")
    client.use_token(org["sup_a"])
    assert_problem(client.post(f"cases/{made.id}/review", json=review), 422, "VALIDATION_ERROR")
    row = fresh(made)
    assert (row.status, row.quality, row.reviewed_by_id) == ("submitted", None, None)
    assert reviews() == []


@pytest.mark.parametrize("quality", [1, 5])
def test_quality_edges_are_accepted(app, client, org, quality):
    made = item(org["eng_a1"], status="submitted")
    client.use_token(org["admin"])
    response = client.post(f"cases/{made.id}/review", json={"decision": "approve", "quality": quality})
    assert response.get_json()["quality"] == quality


def test_reviewing_an_unknown_case_is_404(app, client, org):
    client.use_token(org["admin"])
    assert_problem(client.post("cases/999999/review", json={"decision": "approve", "quality": 3}),
                   404, "NOT_FOUND")


# --- who sees what ----------------------------------------------------------------------

VISIBLE = {
    # actor: (sees eng_a1's approved, sees eng_a1's submitted and rejected)
    "eng_a1": (True, True), "eng_a2": (True, False), "eng_b1": (True, False), "loner": (True, False),
    "sup_a": (True, True), "sup_b": (True, False), "admin": (True, True),
}


@pytest.mark.parametrize("who", VISIBLE)
def test_approved_items_are_shared_and_the_others_stay_in_the_authors_scope(app, org, who):
    approved = item(org["eng_a1"], status="approved")
    submitted = item(org["eng_a1"], status="submitted")
    rejected = item(org["eng_a1"], status="rejected")
    sees_approved, sees_private = VISIBLE[who]
    client = as_user(app, org[who])
    expected = [rejected.id, submitted.id] if sees_private else []
    assert ids(client.get("cases")) == expected + [approved.id]
    assert ids(client.get("cases", query_string={"q": "漏水"})) == expected + [approved.id]
    for made in (submitted, rejected):
        response = client.get(f"cases/{made.id}")
        if sees_private:
            assert response.status_code == 200 and response.get_json()["id"] == made.id
        else:
            assert_problem(response, 404, "NOT_FOUND")
    assert client.get(f"cases/{approved.id}").status_code == 200


def test_a_loners_private_items_are_seen_by_admins_only(app, org):
    made = item(org["loner"], status="submitted")
    assert ids(as_user(app, org["admin"]).get("cases")) == [made.id]
    assert ids(as_user(app, org["sup_a"]).get("cases")) == []
    assert ids(as_user(app, org["loner"]).get("cases")) == [made.id]


def test_anonymous_callers_see_nothing(app, client, org):
    made = item(org["eng_a1"])
    assert_problem(client.get("cases"), 401, "UNAUTHORIZED")
    assert_problem(client.get(f"cases/{made.id}"), 401, "UNAUTHORIZED")


def test_an_unknown_case_is_404(app, org):
    assert_problem(as_user(app, org["admin"]).get("cases/999999"), 404, "NOT_FOUND")


# --- filters -----------------------------------------------------------------------------

def test_status_kind_author_and_tag_filters(app, org):
    a = item(org["eng_a1"], status="approved", kind="document", tags=["HVAC", "漏水"])
    b = item(org["eng_a1"], status="submitted", tags=["electrical"])
    c = item(org["eng_a2"], status="rejected", tags=["hvac"])
    d = item(org["eng_b1"], status="approved", tags=["Hvac "])
    client = as_user(app, org["admin"])
    assert ids(client.get("cases", query_string={"status": "approved"})) == [d.id, a.id]
    assert ids(client.get("cases", query_string={"status": "submitted,rejected"})) == [c.id, b.id]
    assert ids(client.get("cases", query_string={"kind": "document"})) == [a.id]
    assert ids(client.get("cases", query_string={"author_id": org["eng_a1"].id})) == [b.id, a.id]
    assert ids(client.get("cases", query_string={"tag": " HVAC"})) == [d.id, c.id, a.id]
    assert ids(client.get("cases", query_string={"tag": "漏水", "status": "approved"})) == [a.id]
    assert ids(client.get("cases", query_string={"tag": "hv"})) == []  # a tag matches whole
    # An engineer's filters never reach past their scope.
    assert ids(as_user(app, org["eng_b1"]).get("cases", query_string={"author_id": org["eng_a1"].id})) == [a.id]


@pytest.mark.parametrize("args", [
    {"status": "draft"}, {"status": "approved,draft"}, {"kind": "memo"}, {"author_id": "x"},
    {"author_id": 0}, {"tag": "t" * 31}, {"q": "q" * 101}, {"per_page": 201}, {"page": 0},
])
def test_bad_filters_are_422(app, org, args):
    assert_problem(as_user(app, org["eng_a1"]).get("cases", query_string=args), 422, "VALIDATION_ERROR")


# --- search --------------------------------------------------------------------------------

@pytest.fixture
def library(org) -> dict[str, KnowledgeItem]:
    """Approved items of several kinds of text."""
    return {
        "leak": item(org["eng_a1"], title="空调室内机漏水处理", symptom="天花板水渍", cause="排水管堵塞",
                     solution="疏通排水管，调整坡度", tags=["hvac"]),
        "breaker": item(org["eng_a2"], title="Breaker trips under load", symptom="Main breaker trips",
                        cause="Loose neutral terminal", solution="Torque the terminal", tags=["electrical"]),
        "refrigerant": item(org["eng_b1"], title="R410A 冷媒泄漏检测", symptom="空调 制冷差",
                            cause="铜管砂眼，冷媒泄漏", solution="保压检漏后补焊，按 R410A 规范加注",
                            tags=["hvac", "冷媒"]),
        "compressor": item(org["eng_a1"], title="Compressor will not start", symptom="Hums, then stops",
                           cause="Failed start capacitor", solution="Replace the capacitor 更换电容",
                           tags=["hvac"]),
    }


def search(app, user: User, q: str, **args: Any) -> list[int]:
    return ids(as_user(app, user).get("cases", query_string={"q": q, **args}))


def test_漏水_finds_空调室内机漏水处理(app, org, library):
    assert search(app, org["eng_b1"], "漏水") == [library["leak"].id]


def test_跳闸_finds_the_bilingual_breaker_case_断路器跳闸(app, org, library):
    """The demo's case: an English title with its Chinese one, found by either language."""
    bilingual = item(org["eng_a2"], title="Breaker trips under load / 断路器跳闸",
                     symptom="Main breaker trips at lunch peak / 午间用电高峰主断路器跳闸",
                     cause="Loose neutral terminal / 零线端子松动", solution="紧固零线端子",
                     tags=["electrical", "跳闸"])
    assert search(app, org["eng_b1"], "跳闸") == [bilingual.id]
    assert search(app, org["eng_b1"], "断路器") == [bilingual.id]
    assert set(search(app, org["eng_b1"], "breaker")) == {bilingual.id, library["breaker"].id}


@pytest.mark.parametrize("q, found", [
    ("漏水", ["leak"]),
    ("室内机", ["leak"]),
    ("排水管", ["leak"]),  # the cause
    ("水", ["leak"]),  # one character
    ("泄漏", ["refrigerant"]),
    ("空调", ["leak", "refrigerant"]),
    ("breaker", ["breaker"]),
    ("BREAKER Trips", ["breaker"]),  # English, whatever the case
    ("neutral", ["breaker"]),  # the cause
    ("compress", ["compressor"]),  # a prefix of three letters or more
    ("capacit", ["compressor"]),
    ("R410A 空调 漏水", []),  # every term must match: no item has all three
    ("R410A 空调", ["refrigerant"]),
    ("r410a 冷媒", ["refrigerant"]),  # mixed text, lower case
    ("ｒ４１０ａ", ["refrigerant"]),  # full-width
    ("电容 replace", ["compressor"]),
    ("electrical", ["breaker"]),  # a tag
    ("冷媒", ["refrigerant"]),
    ("漏水 breaker", []),
    ("水管漏", []),  # 水管 is not in the text (排水管 is, but not 水管漏)
    ("elephant", []),
    ("br", []),  # two letters are a whole word, not a prefix
    ("漏电", []),
])
def test_search(app, org, library, q, found):
    assert sorted(search(app, org["admin"], q)) == sorted(library[name].id for name in found)


def test_a_query_without_letters_or_digits_filters_nothing(app, org, library):
    assert len(search(app, org["admin"], " ，。!? ")) == len(library)


def test_matches_in_the_title_rank_first(app, org):
    in_body = item(org["eng_a1"], title="Indoor unit service", solution="Clear the drain, fix the leak")
    in_title = item(org["eng_a1"], title="Leak at the drain pan", solution="Clear the drain")
    in_tag = item(org["eng_a1"], title="Drain pan service", tags=["leak"])
    newest_in_body = item(org["eng_a1"], title="Outdoor unit", solution="A leak, again")
    assert search(app, org["admin"], "leak") == [in_title.id, in_tag.id, newest_in_body.id, in_body.id]


def test_search_combines_with_the_filters_and_pages_by_rank(app, org, library):
    client = as_user(app, org["admin"])
    assert ids(client.get("cases", query_string={"q": "空调", "tag": "冷媒"})) == [library["refrigerant"].id]
    assert ids(client.get("cases", query_string={"q": "hvac", "author_id": org["eng_a1"].id})) == [
        library["compressor"].id, library["leak"].id]
    page = client.get("cases", query_string={"q": "hvac", "per_page": 2, "page": 2}).get_json()
    assert (page["total"], page["page"], page["per_page"], len(page["items"])) == (3, 2, 2, 1)


def test_search_never_shows_a_private_item_outside_scope(app, org):
    private = item(org["eng_a1"], status="submitted", title="漏水 private")
    assert search(app, org["eng_b1"], "漏水") == []
    assert search(app, org["sup_b"], "private") == []
    assert search(app, org["sup_a"], "漏水") == [private.id]
    assert search(app, org["eng_a1"], "private 漏水") == [private.id]


def test_the_list_costs_the_same_statements_for_1_and_6_items(app, org):
    item(org["eng_a1"], title="Compressor trips")
    client = as_user(app, org["sup_a"])
    client.get("cases")  # the token's first use is recorded once
    one, page = statements_of(client, "cases")
    assert page["total"] == 1
    for n in range(5):
        item(org["eng_a2"] if n % 2 else org["eng_a1"], status="submitted" if n % 2 else "approved",
             title=f"Fan noise {n}", tags=[f"tag{n}", "hvac"])
    six, page = statements_of(client, "cases")
    assert page["total"] == 6 and len(page["items"]) == 6
    assert one == six
