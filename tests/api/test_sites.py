"""/sites: create, list, read, change, and the all-or-nothing CSV import (api.md, Sites)."""
from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Site
from tests.support import statements_of

VALID = {"name": "Plant 1", "customer_name": "ACME", "address": "1 Dock Road",
         "lat": 31.2304, "lon": 121.4737}
HEADER = ("name", "customer_name", "address", "lat", "lon", "radius_m")
GOOD_ROW = ("Plant 1", "ACME", "1 Dock Road", "31.2", "121.4", "200")


def body(**changes):
    """VALID with some fields changed; a value of ... drops the field."""
    data = {**VALID, **changes}
    return {k: v for k, v in data.items() if v is not ...}


def csv_bytes(*rows, header=HEADER, encoding="utf-8", bom=False) -> bytes:
    """A CSV file: the header line, then one line per row (a tuple or a raw string)."""
    lines = [",".join(header)] if header is not None else []
    lines += [row if isinstance(row, str) else ",".join(row) for row in rows]
    text = "\r\n".join(lines) + ("\r\n" if lines else "")
    return ("\ufeff" if bom else "").encode(encoding) + text.encode(encoding)


def sites() -> list[Site]:
    return list(db.session.scalars(sa.select(Site).order_by(Site.id)))


def count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Site))


def assert_problem(response, status: int, code: str):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert response.json["status"] == status
    assert response.json["code"] == code
    return response.json


def upload(client, raw: bytes, as_file=True, **kwargs):
    """POST /sites/import as a multipart `file` or as a raw text/csv body."""
    if as_file:
        return client.post("sites/import", data={"file": (io.BytesIO(raw), "sites.csv")},
                           content_type="multipart/form-data", **kwargs)
    return client.post("sites/import", data=raw, content_type="text/csv; charset=utf-8", **kwargs)


@pytest.fixture
def site(factory):
    made = factory.site(name="Tower A", customer_name="Globex", address="9 Hill St")
    db.session.commit()
    return made


# --- who may do what ---------------------------------------------------------------

ROUTES = {
    "create": ("POST", "sites", {"json": VALID}),
    "list": ("GET", "sites", {}),
    "read": ("GET", "sites/{id}", {}),
    "change": ("PATCH", "sites/{id}", {"json": {"radius_m": 300}}),
    "import": ("POST", "sites/import",
               {"data": csv_bytes(GOOD_ROW), "content_type": "text/csv"}),
}
ALLOWED = {"create": ("supervisor", "admin"), "list": ("engineer", "supervisor", "admin"),
           "read": ("engineer", "supervisor", "admin"), "change": ("supervisor", "admin"),
           "import": ("admin",)}
SUCCESS = {"create": 201, "list": 200, "read": 200, "change": 200, "import": 201}


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("who", ["anonymous", "engineer", "supervisor", "admin"])
def test_access_matrix(client, org, site, route, who):
    method, path, kwargs = ROUTES[route]
    if who != "anonymous":
        client.login(org[{"engineer": "eng_a1", "supervisor": "sup_a", "admin": "admin"}[who]])
    before = count()
    response = client.open(method, path.format(id=site.id), **kwargs)
    if who == "anonymous":
        assert_problem(response, 401, "UNAUTHORIZED")
    elif who not in ALLOWED[route]:
        assert_problem(response, 403, "FORBIDDEN")
    else:
        assert response.status_code == SUCCESS[route], response.json
    wrote = who in ALLOWED[route] and route in ("create", "import")
    assert count() == before + wrote
    if route == "change":
        db.session.refresh(site)
        assert site.radius_m == (300 if who in ALLOWED[route] else 150)


@pytest.mark.parametrize("path", ["sites/{id}", "sites/999999"])
def test_role_is_checked_before_lookup_and_body(client, org, site, path):
    """An engineer gets 403 on a change, whatever the id or the body."""
    client.login(org["eng_a1"])
    assert_problem(client.patch(path.format(id=site.id), json={"lat": 500}), 403, "FORBIDDEN")
    assert_problem(client.post("sites", json={"lat": 500}), 403, "FORBIDDEN")


@pytest.mark.parametrize("header", [None, "wrong-token"])
@pytest.mark.parametrize("route", ["create", "change", "import"])
def test_cookie_session_without_csrf_token_is_refused(client, org, site, route, header):
    method, path, kwargs = ROUTES[route]
    client.login(org["admin"])
    headers = {"X-CSRF-Token": header} if header else {}
    response = client.open(method, path.format(id=site.id), csrf=False, headers=headers, **kwargs)
    assert_problem(response, 403, "CSRF_FAILED")
    assert [s.id for s in sites()] == [site.id]
    db.session.refresh(site)
    assert site.radius_m == 150


# --- POST /sites -------------------------------------------------------------------

@pytest.mark.parametrize("who", ["sup_a", "admin"])
@pytest.mark.parametrize("auth", ["cookie", "token"])
def test_create_site(client, org, who, auth):
    client.login(org[who]) if auth == "cookie" else client.use_token(org[who])
    response = client.post("sites", json=body(name="  Plant 1  "))
    assert response.status_code == 201
    data = response.json
    assert response.headers["Location"] == f"/api/v1/sites/{data['id']}"
    assert data == {"id": data["id"], "name": "Plant 1", "customer_name": "ACME",
                    "address": "1 Dock Road", "lat": 31.2304, "lon": 121.4737, "radius_m": 150,
                    "contact_name": None, "contact_phone": None, "created_at": data["created_at"]}
    assert data["created_at"].endswith("Z")
    [row] = sites()
    assert (row.id, row.name, row.lat, row.lon, row.radius_m, row.created_by_id) == (
        data["id"], "Plant 1", 31.2304, 121.4737, 150, org[who].id)
    assert client.get(response.headers["Location"]).json == data


@pytest.mark.parametrize("changes", [
    {"lat": -90, "lon": -180}, {"lat": 90, "lon": 180}, {"lat": 0, "lon": 0},
    {"radius_m": 20}, {"radius_m": 5000}, {"name": "n" * 200}, {"address": "a" * 500},
    {"name": "北京朝阳门店", "customer_name": "海底捞", "address": "北京市朝阳区建国路88号"},
])
def test_create_accepts_edges(client, org, changes):
    client.login(org["sup_a"])
    response = client.post("sites", json=body(**changes))
    assert response.status_code == 201, response.json
    expected = {**body(), "radius_m": 150, **changes}
    assert {k: response.json[k] for k in expected} == expected
    [row] = sites()
    assert {k: getattr(row, k) for k in expected} == expected


@pytest.mark.parametrize("changes, field", [
    ({"lat": -90.0001}, "lat"),
    ({"lat": 90.0001}, "lat"),
    ({"lon": -180.0001}, "lon"),
    ({"lon": 180.0001}, "lon"),
    ({"radius_m": 19}, "radius_m"),
    ({"radius_m": 5001}, "radius_m"),
    ({"radius_m": 150.5}, "radius_m"),
    ({"radius_m": None}, "radius_m"),
    ({"name": ...}, "name"),
    ({"customer_name": ...}, "customer_name"),
    ({"address": ...}, "address"),
    ({"lat": ...}, "lat"),
    ({"lon": ...}, "lon"),
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"customer_name": ""}, "customer_name"),
    ({"address": ""}, "address"),
    ({"name": "n" * 201}, "name"),
    ({"customer_name": "c" * 201}, "customer_name"),
    ({"address": "a" * 501}, "address"),
    ({"name": None}, "name"),
    ({"name": 12}, "name"),
    ({"lat": "north"}, "lat"),
    ({"lat": True}, "lat"),
    ({"lat": None}, "lat"),
    ({"lat": "NaN"}, "lat"),
    ({"lon": "Infinity"}, "lon"),
    ({"id": 7}, "id"),
    ({"created_by_id": 1}, "created_by_id"),
    ({"created_at": "2026-01-01T00:00:00Z"}, "created_at"),
])
def test_create_rejects_bad_input(client, org, changes, field):
    client.login(org["admin"])
    response = client.post("sites", json=body(**changes))
    problem = assert_problem(response, 422, "VALIDATION_ERROR")
    assert list(problem["errors"]) == [field]
    assert all(isinstance(m, str) for m in problem["errors"][field])
    assert count() == 0


def test_create_reports_every_bad_field_at_once(client, org):
    client.login(org["admin"])
    problem = assert_problem(client.post("sites", json={"lat": 91, "role": "admin"}),
                             422, "VALIDATION_ERROR")
    assert set(problem["errors"]) == {"name", "customer_name", "address", "lat", "lon", "role"}
    assert problem["errors"]["lat"] == ["Must be between -90 and 90."]


@pytest.mark.parametrize("raw, content_type, status, code", [
    ('{"lat": NaN, "lon": 1, "name": "a", "customer_name": "b", "address": "c"}',
     "application/json", 422, "VALIDATION_ERROR"),
    ('{"name": "Plant 1", ', "application/json", 400, "MALFORMED_REQUEST"),
    ("not json", "application/json", 400, "MALFORMED_REQUEST"),
    ('["a list"]', "application/json", 422, "VALIDATION_ERROR"),
    ("", "application/json", 422, "VALIDATION_ERROR"),
    ("name=Plant", "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE"),
    ("name=Plant", "application/x-www-form-urlencoded", 415, "UNSUPPORTED_MEDIA_TYPE"),
])
def test_create_rejects_bad_bodies(client, org, raw, content_type, status, code):
    client.login(org["admin"])
    response = client.post("sites", data=raw, content_type=content_type)
    problem = assert_problem(response, status, code)
    if code == "VALIDATION_ERROR":
        assert problem["errors"]
    if status == 400:
        assert "errors" not in problem
    assert count() == 0


# --- GET /sites, GET /sites/{id} ---------------------------------------------------

def test_list_sites_newest_first_in_the_envelope(client, org, factory):
    made = [factory.site(name=f"Site {i}") for i in range(3)]
    db.session.commit()
    client.login(org["eng_a1"])
    response = client.get("sites")
    assert response.status_code == 200
    assert response.json["items"][0] == client.get(f"sites/{made[2].id}").json
    assert {k: v for k, v in response.json.items() if k != "items"} == {
        "page": 1, "per_page": 50, "total": 3}
    assert [s["name"] for s in response.json["items"]] == ["Site 2", "Site 1", "Site 0"]

    page = client.get("sites?per_page=1&page=2").json
    assert ([s["name"] for s in page["items"]], page["page"], page["per_page"], page["total"]) == (
        ["Site 1"], 2, 1, 3)
    assert client.get("sites?per_page=200&page=3").json["items"] == []


@pytest.mark.parametrize("query, field", [
    ("per_page=0", "per_page"), ("per_page=201", "per_page"), ("per_page=x", "per_page"),
    ("page=0", "page"), ("q=" + "x" * 101, "q"),
])
def test_list_sites_rejects_bad_paging(client, org, query, field):
    client.login(org["eng_a1"])
    problem = assert_problem(client.get("sites?" + query), 422, "VALIDATION_ERROR")
    assert list(problem["errors"]) == [field]


@pytest.mark.parametrize("q, expected", [
    ("tower", ["Tower A"]),                  # name, any case
    ("GLOBEX", ["Tower A"]),                 # customer
    ("hill st", ["Tower A"]),                # address
    ("门店", ["北京朝阳门店"]),
    ("海底捞", ["北京朝阳门店", "上海店"]),
    ("建国路", ["北京朝阳门店"]),
    ("100%", ["100% Cotton"]),               # % is literal, not a wildcard
    ("%", ["100% Cotton"]),
    ("a_b", ["a_b Works"]),                  # so is _
    ("nothing like it", []),
])
def test_list_sites_filter_q(client, org, factory, site, q, expected):
    factory.site(name="北京朝阳门店", customer_name="海底捞", address="北京市朝阳区建国路88号")
    factory.site(name="上海店", customer_name="海底捞火锅", address="上海市")
    factory.site(name="100% Cotton", customer_name="Mill", address="1 Road")
    factory.site(name="1000 Cotton", customer_name="Mill", address="2 Road")
    factory.site(name="a_b Works", customer_name="Mill", address="3 Road")
    factory.site(name="axb Works", customer_name="Mill", address="4 Road")
    db.session.commit()
    client.login(org["eng_a1"])
    response = client.get("sites", query_string={"q": q})
    assert response.status_code == 200
    assert sorted(s["name"] for s in response.json["items"]) == sorted(expected)
    assert response.json["total"] == len(expected)


@pytest.mark.parametrize("who", ["eng_a1", "loner", "sup_b", "admin"])
def test_read_site(client, org, site, who):
    client.login(org[who])
    response = client.get(f"sites/{site.id}")
    assert response.status_code == 200
    assert response.json["id"] == site.id
    assert (response.json["name"], response.json["customer_name"]) == ("Tower A", "Globex")
    assert_problem(client.get(f"sites/{site.id + 1000}"), 404, "NOT_FOUND")


# --- PATCH /sites/{id} -------------------------------------------------------------

@pytest.mark.parametrize("who", ["sup_b", "admin"])
def test_change_site(client, org, site, who):
    client.login(org[who])
    change = {"name": "  Tower B ", "lat": -90, "lon": 180, "radius_m": 5000}
    response = client.patch(f"sites/{site.id}", json=change)
    assert response.status_code == 200
    assert {k: response.json[k] for k in change} == {**change, "name": "Tower B"}
    db.session.refresh(site)
    assert (site.name, site.customer_name, site.lat, site.lon, site.radius_m) == (
        "Tower B", "Globex", -90, 180, 5000)
    assert client.patch(f"sites/{site.id}", json={}).json == response.json


@pytest.mark.parametrize("change, field", [
    ({"lat": 90.0001}, "lat"), ({"lon": -180.0001}, "lon"), ({"lat": None}, "lat"),
    ({"radius_m": 19}, "radius_m"), ({"radius_m": 5001}, "radius_m"),
    ({"name": ""}, "name"), ({"name": "  "}, "name"), ({"address": "a" * 501}, "address"),
    ({"lat": "NaN"}, "lat"), ({"id": 9}, "id"), ({"created_by_id": 1}, "created_by_id"),
])
def test_change_site_rejects_bad_input(client, org, site, change, field):
    client.login(org["admin"])
    problem = assert_problem(client.patch(f"sites/{site.id}", json=change), 422, "VALIDATION_ERROR")
    assert list(problem["errors"]) == [field]
    db.session.refresh(site)
    assert (site.id, site.name, site.lat, site.radius_m, site.created_by_id) == (
        site.id, "Tower A", 31.2304, 150, None)


def test_change_unknown_site(client, org):
    client.login(org["admin"])
    assert_problem(client.patch("sites/999999", json={"name": "X"}), 404, "NOT_FOUND")
    assert_problem(client.patch("sites/999999", data="x", content_type="text/plain"),
                   415, "UNSUPPORTED_MEDIA_TYPE")


# --- POST /sites/import -----------------------------------------------------------

@pytest.mark.parametrize("as_file", [True, False], ids=["multipart", "text-csv"])
def test_import_sites(client, org, as_file):
    client.login(org["admin"])
    raw = csv_bytes(GOOD_ROW, ("Plant 2", "Initech", '"2 Quay, Pier 3"', "-90", "180", ""),
                    ",,,,,")  # a blank line of commas is skipped
    response = upload(client, raw, as_file=as_file)
    assert response.status_code == 201, response.json
    assert response.json["imported"] == 2
    items = response.json["items"]
    assert [(i["name"], i["address"], i["lat"], i["lon"], i["radius_m"]) for i in items] == [
        ("Plant 1", "1 Dock Road", 31.2, 121.4, 200), ("Plant 2", "2 Quay, Pier 3", -90, 180, 150)]
    rows = sites()
    assert [(r.id, r.name, r.radius_m, r.created_by_id) for r in rows] == [
        (items[0]["id"], "Plant 1", 200, org["admin"].id),
        (items[1]["id"], "Plant 2", 150, org["admin"].id)]


CHINESE_ROWS = [("北京朝阳门店", "海底捞", "北京市朝阳区建国路88号", "39.9", "116.4", "300"),
                ("上海徐汇店", "海底捞", "上海市徐汇区", "31.2", "121.4", "")]


@pytest.mark.parametrize("encoding, bom", [("utf-8", True), ("utf-8", False), ("gb18030", False)])
def test_import_chinese_files(client, org, encoding, bom):
    client.login(org["admin"])
    response = upload(client, csv_bytes(*CHINESE_ROWS, encoding=encoding, bom=bom))
    assert response.status_code == 201, response.json
    assert [(r.name, r.customer_name, r.address, r.radius_m) for r in sites()] == [
        ("北京朝阳门店", "海底捞", "北京市朝阳区建国路88号", 300), ("上海徐汇店", "海底捞", "上海市徐汇区", 150)]


def test_import_without_the_radius_column_uses_the_default(client, org):
    client.login(org["admin"])
    raw = csv_bytes(GOOD_ROW[:5], header=HEADER[:5])
    assert upload(client, raw).status_code == 201
    assert [r.radius_m for r in sites()] == [150]


def test_import_reports_every_bad_row_and_imports_nothing(client, org, site):
    client.login(org["admin"])
    raw = csv_bytes(
        GOOD_ROW,                                                       # line 2
        ("", "ACME", "x", "91", "0", "150"),                            # line 3
        GOOD_ROW,                                                       # line 4
        "",                                                             # line 5, blank
        ("Bad radius", "ACME", "x", "1", "1", "19"),                    # line 6
        ("Too many", "ACME", "x", "1", "1", "150", "extra"),            # line 7
        ("Too few", "ACME", "x", "1"),                                  # line 8
        ("Not numbers", "ACME", "x", "north", "NaN", "1.5"),            # line 9
        '"Multi\nline",ACME,x,1,1,150',                                 # lines 10-11, good
        ("n" * 201, "ACME", "x", "1", "1", "150"),                      # line 12
    )
    problem = assert_problem(upload(client, raw), 422, "VALIDATION_ERROR")
    assert list(problem["errors"]) == ["rows"]
    reported = {r["row"]: r["errors"] for r in problem["errors"]["rows"]}
    assert {line: sorted(errors) for line, errors in reported.items()} == {
        3: ["lat", "name"], 6: ["radius_m"], 7: ["row"], 8: ["lon"],
        9: ["lat", "lon", "radius_m"], 12: ["name"]}
    assert reported[3]["lat"] == ["Must be between -90 and 90."]
    assert "6 row(s)" in problem["detail"]
    assert [s.id for s in sites()] == [site.id]


@pytest.mark.parametrize("header, messages", [
    (("name", "customer_name", "address", "lat"), ["Missing column: lon."]),
    (("name", "customer_name", "address", "lat", "lon", "radius_m", "id"), ["Unknown column: id."]),
    (("name", "customer", "address", "lat", "lon"),
     ["Missing column: customer_name.", "Unknown column: customer."]),
    (("Name", "customer_name", "address", "lat", "lon"),
     ["Missing column: name.", "Unknown column: Name."]),
    (("name", "customer_name", "address", "lat", "lon", "lon"), ["Duplicate column: lon."]),
])
def test_import_checks_the_columns(client, org, header, messages):
    client.login(org["admin"])
    row = ("Plant", "ACME", "x", "1", "1", "150", "1")[:len(header)]
    problem = assert_problem(upload(client, csv_bytes(row, header=header)), 422, "VALIDATION_ERROR")
    assert problem["errors"] == {"columns": messages}
    assert count() == 0


def test_import_accepts_columns_in_any_order_with_spaces(client, org):
    client.login(org["admin"])
    raw = csv_bytes(("1", "2", "x", "ACME", "Plant"),
                    header=(" lon", "lat ", "address", "customer_name", "name"))
    assert upload(client, raw).status_code == 201
    assert [(r.name, r.lat, r.lon) for r in sites()] == [("Plant", 2, 1)]


@pytest.mark.parametrize("raw, field", [
    (b"", "columns"),                         # empty file: no header at all
    (csv_bytes(), "file"),                    # header only
    (csv_bytes(",,,,,"), "file"),             # header and a blank row
    (b"\xff\xfe\x00n\x00a", "file"),          # neither UTF-8 nor GB18030
])
@pytest.mark.parametrize("as_file", [True, False], ids=["multipart", "text-csv"])
def test_import_rejects_empty_and_unreadable_files(client, org, raw, field, as_file):
    client.login(org["admin"])
    problem = assert_problem(upload(client, raw, as_file=as_file), 422, "VALIDATION_ERROR")
    assert list(problem["errors"]) == [field]
    assert count() == 0


def test_import_needs_the_file_field(client, org):
    client.login(org["admin"])
    response = client.post("sites/import", data={"other": (io.BytesIO(csv_bytes(GOOD_ROW)), "a.csv")},
                           content_type="multipart/form-data")
    problem = assert_problem(response, 422, "VALIDATION_ERROR")
    assert list(problem["errors"]) == ["file"]
    assert count() == 0


@pytest.mark.parametrize("kwargs", [
    {"json": {"rows": [VALID]}},
    {"data": csv_bytes(GOOD_ROW), "content_type": "text/plain"},
    {"data": csv_bytes(GOOD_ROW), "content_type": "application/octet-stream"},
])
def test_import_refuses_other_body_types(client, org, kwargs):
    client.login(org["admin"])
    assert_problem(client.post("sites/import", **kwargs), 415, "UNSUPPORTED_MEDIA_TYPE")
    assert count() == 0


def test_import_rows_are_validated_like_created_sites(client, org):
    """The import and POST /sites share one schema: the same value fails both alike."""
    client.login(org["admin"])
    created = client.post("sites", json=body(lat=-90.0001)).json["errors"]
    imported = upload(client, csv_bytes(("Plant 1", "ACME", "1 Dock Road", "-90.0001", "121.4", "")))
    assert imported.json["errors"]["rows"] == [{"row": 2, "errors": created}]


def test_import_limits(client, org, app, monkeypatch):
    client.login(org["admin"])
    monkeypatch.setattr("app.services.sites.MAX_IMPORT_ROWS", 2)
    problem = assert_problem(upload(client, csv_bytes(*[GOOD_ROW] * 3)), 422, "VALIDATION_ERROR")
    assert problem["errors"] == {"file": ["Too many rows."]}
    huge = assert_problem(upload(client, csv_bytes(("x" * 140_000, "ACME", "x", "1", "1", ""))),
                          422, "VALIDATION_ERROR")
    assert list(huge["errors"]) == ["file"]  # csv.Error: field larger than the field limit
    app.config["MAX_CONTENT_LENGTH"] = 100
    for as_file in (True, False):
        assert_problem(upload(client, csv_bytes(*[GOOD_ROW] * 3), as_file=as_file),
                       413, "PAYLOAD_TOO_LARGE")
    assert count() == 0
    app.config["MAX_CONTENT_LENGTH"] = 25 * 1024 * 1024
    assert upload(client, csv_bytes(*[GOOD_ROW] * 2)).json["imported"] == 2


# --- the rest of the contract ------------------------------------------------------

@pytest.mark.parametrize("method, path, status, code", [
    ("DELETE", "sites/{id}", 405, "METHOD_NOT_ALLOWED"),
    ("PUT", "sites/{id}", 405, "METHOD_NOT_ALLOWED"),
    ("GET", "sites/import", 405, "METHOD_NOT_ALLOWED"),
    ("GET", "sites/abc", 404, "NOT_FOUND"),
])
def test_unknown_routes_answer_problems(client, org, site, method, path, status, code):
    client.login(org["admin"])
    assert_problem(client.open(method, path.format(id=site.id)), status, code)
    assert count() == 1


def test_change_site_with_malformed_json(client, org, site):
    client.login(org["admin"])
    assert_problem(client.patch(f"sites/{site.id}", data='{"name": ', content_type="application/json"),
                   400, "MALFORMED_REQUEST")
    db.session.refresh(site)
    assert site.name == "Tower A"


def test_openapi_documents_the_site_rules(client):
    schemas = client.get("openapi.json").json["components"]["schemas"]
    create = schemas["SiteCreate"]
    assert sorted(create["required"]) == ["address", "customer_name", "lat", "lon", "name"]
    assert create["properties"]["radius_m"] == {
        "type": "integer", "minimum": 20, "maximum": 5000, "description": "Geofence radius; default 150."}
    assert create["properties"]["lat"]["minimum"] == -90
    assert create["properties"]["name"] == {"type": "string", "minLength": 1, "maxLength": 200}


def test_the_list_costs_the_same_statements_for_1_and_6_sites(client, org, factory):
    client.use_token(org["eng_a1"])
    factory.site()
    db.session.commit()
    client.get("sites")  # the token's first use is recorded once
    one, page = statements_of(client, "sites")
    assert page["total"] == 1
    for _ in range(5):
        factory.site()
    db.session.commit()
    six, page = statements_of(client, "sites")
    assert page["total"] == 6 and len(page["items"]) == 6
    assert one == six


# --- the site's contact ----------------------------------------------------------------

@pytest.mark.parametrize("phone", [
    "+862161234567", "+12025550123", "13812345678", "021-6123 4567", "0216 123 4567", "110",
    "+" + "1" * 15, "1" * 32,
])
def test_a_site_takes_a_contact_name_and_phone(client, org, phone):
    client.login(org["sup_a"])
    response = client.post("sites", json=body(contact_name="  王经理 ", contact_phone=f" {phone} "))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert (response.json["contact_name"], response.json["contact_phone"]) == ("王经理", phone)
    [row] = sites()
    assert (row.contact_name, row.contact_phone) == ("王经理", phone)
    client.login(org["eng_a1"])
    assert client.get(f"sites/{row.id}").json["contact_phone"] == phone


def test_a_site_contact_is_changed_and_cleared(client, org, site):
    client.login(org["admin"])
    changed = client.patch(f"sites/{site.id}", json={"contact_name": "Li Wei", "contact_phone": "+8613800000000"})
    assert (changed.json["contact_name"], changed.json["contact_phone"]) == ("Li Wei", "+8613800000000")
    assert client.patch(f"sites/{site.id}", json={"radius_m": 300}).json["contact_phone"] == "+8613800000000"
    cleared = client.patch(f"sites/{site.id}", json={"contact_name": "  ", "contact_phone": None})
    assert (cleared.json["contact_name"], cleared.json["contact_phone"]) == (None, None)
    db.session.refresh(site)
    assert (site.contact_name, site.contact_phone) == (None, None)


@pytest.mark.parametrize("change, field", [
    ({"contact_phone": "+0123456"}, "contact_phone"),       # no country code starts with 0
    ({"contact_phone": "+1234567890123456"}, "contact_phone"),  # E.164: at most 15 digits
    ({"contact_phone": "+86 21 6123 4567"}, "contact_phone"),   # E.164 has no spaces
    ({"contact_phone": "1" * 33}, "contact_phone"),
    ({"contact_phone": "021--6123"}, "contact_phone"),
    ({"contact_phone": "-6123"}, "contact_phone"),
    ({"contact_phone": "6123 "  + "x"}, "contact_phone"),
    ({"contact_phone": "tel:6123"}, "contact_phone"),
    ({"contact_phone": "(021) 6123"}, "contact_phone"),
    ({"contact_phone": 13812345678}, "contact_phone"),
    ({"contact_phone": "１３８１２３４５６７８"}, "contact_phone"),  # full-width digits
    ({"contact_name": "n" * 121}, "contact_name"),
    ({"contact_name": 5}, "contact_name"),
])
def test_a_bad_site_contact_is_refused(client, org, site, change, field):
    client.login(org["admin"])
    problem = assert_problem(client.patch(f"sites/{site.id}", json=change), 422, "VALIDATION_ERROR")
    assert list(problem["errors"]) == [field]
    problem = assert_problem(client.post("sites", json=body(**change)), 422, "VALIDATION_ERROR")
    assert list(problem["errors"]) == [field]
    db.session.refresh(site)
    assert (site.contact_name, site.contact_phone, count()) == (None, None, 1)


def test_import_takes_the_contact_columns(client, org):
    client.login(org["admin"])
    header = HEADER + ("contact_name", "contact_phone")
    raw = csv_bytes(GOOD_ROW + ("Ms Chen", "021-6123 4567"), ("Plant 2", "ACME", "x", "1", "1", "", "", ""),
                    header=header)
    response = upload(client, raw)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert [(s.contact_name, s.contact_phone) for s in sites()] == [("Ms Chen", "021-6123 4567"), (None, None)]
    problem = assert_problem(upload(client, csv_bytes(GOOD_ROW + ("Ms Chen", "call me"), header=header)),
                             422, "VALIDATION_ERROR")
    assert problem["errors"]["rows"] == [{"row": 2, "errors": {"contact_phone": [
        "Give the number in E.164 (+862161234567) or as local digits (021-6123 4567)."]}}]
    assert count() == 2
