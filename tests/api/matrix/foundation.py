"""Sign-in, users, sites, audit."""
from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import ApiToken
from tests.api.matrix import ENGINEERS_403, expect
from tests.support import ApiClient

SITE_BODY = {"name": "N", "customer_name": "C", "address": "A", "lat": 31.2, "lon": 121.4}
CSV = "name,customer_name,address,lat,lon\nN,C,A,31.2,121.4\n"

# (method, URL rule, concrete path with placeholders, request kwargs, expected statuses)
ROWS = [
    ("GET", "/api/v1/auth/me", "auth/me", {}, expect(everyone=200)),
    ("POST", "/api/v1/auth/logout", "auth/logout", {}, expect(everyone=204)),
    ("GET", "/api/v1/auth/tokens", "auth/tokens", {}, expect(everyone=200)),
    ("POST", "/api/v1/auth/tokens", "auth/tokens", {"json": {"name": "n"}}, expect(everyone=201)),
    ("DELETE", "/api/v1/auth/tokens/<int:token_id>", "auth/tokens/{token_of_eng_a1}", {},
     expect(everyone=404, eng_a1=204)),
    ("GET", "/api/v1/users", "users", {}, expect(everyone=200, **ENGINEERS_403)),
    ("POST", "/api/v1/users", "users",
     {"json": {"email": "new@example.com", "name": "New", "password": "long enough pw",
               "role": "supervisor"}},
     expect(everyone=403, admin=201)),
    ("GET", "/api/v1/users/<int:user_id>", "users/{eng_a1}", {},
     expect(everyone=404, eng_a1=200, sup_a=200, admin=200)),
    ("PATCH", "/api/v1/users/<int:user_id>", "users/{eng_a1}", {"json": {"name": "Renamed"}},
     expect(everyone=404, eng_a1=200, sup_a=403, admin=200)),
    ("GET", "/api/v1/sites", "sites", {}, expect(everyone=200)),
    ("POST", "/api/v1/sites", "sites", {"json": SITE_BODY}, expect(everyone=201, **ENGINEERS_403)),
    ("GET", "/api/v1/sites/<int:site_id>", "sites/{site}", {}, expect(everyone=200)),
    ("PATCH", "/api/v1/sites/<int:site_id>", "sites/{site}", {"json": {"name": "X"}},
     expect(everyone=200, **ENGINEERS_403)),
    ("POST", "/api/v1/sites/import", "sites/import",
     {"data": CSV, "content_type": "text/csv"}, expect(everyone=403, admin=201)),
    ("GET", "/api/v1/audit", "audit", {}, expect(everyone=403, admin=200)),
]



def world(app, org, factory) -> dict:
    site = factory.site()
    ApiClient(app.test_client()).use_token(org["eng_a1"])
    token_id = db.session.scalar(sa.select(ApiToken.id).where(ApiToken.user_id == org["eng_a1"].id))
    return {"site": site.id, "eng_a1": org["eng_a1"].id, "token_of_eng_a1": token_id}
