"""Ticket intake: the sources and deliveries log (admin only), the signed webhook (public:
its signature is the authentication, tested in tests/api/test_intake.py), the CSV import
of jobs (supervisors and admins; row scope in tests/api/test_job_import.py)."""
from __future__ import annotations

from app.services import intake as intake_service
from tests.api.matrix import ENGINEERS_403, expect

MAPPING = {"external_id": "/id", "title": "/title", "priority": {"value": "normal"},
           "category": {"value": "hvac"}, "site": "/site_id"}
ADMIN_ONLY = {"everyone": 403}

PUBLIC_ROUTES = {("POST", "/api/v1/intake/<source>")}

ROWS = [
    ("GET", "/api/v1/intake-sources", "intake-sources", {}, expect(**ADMIN_ONLY, admin=200)),
    ("POST", "/api/v1/intake-sources", "intake-sources",
     {"json": {"key": "zendesk", "name": "Zendesk", "mapping": MAPPING}},
     expect(**ADMIN_ONLY, admin=201)),
    ("GET", "/api/v1/intake-sources/<int:source_id>", "intake-sources/{intake_source}", {},
     expect(**ADMIN_ONLY, admin=200)),
    ("PATCH", "/api/v1/intake-sources/<int:source_id>", "intake-sources/{intake_source}",
     {"json": {"name": "Renamed"}}, expect(**ADMIN_ONLY, admin=200)),
    ("POST", "/api/v1/intake-sources/<int:source_id>/rotate-secret",
     "intake-sources/{intake_source}/rotate-secret", {"json": {}}, expect(**ADMIN_ONLY, admin=200)),
    ("GET", "/api/v1/intake-deliveries", "intake-deliveries", {}, expect(**ADMIN_ONLY, admin=200)),
    # A dry run answers its report (200) whatever the rows hold.
    ("POST", "/api/v1/jobs/import", "jobs/import?dry_run=true",
     {"data": "site_id,title,category,priority\n1,Leak,hvac,normal\n", "content_type": "text/csv"},
     expect(everyone=200, **ENGINEERS_403)),
]


def world(app, org, factory) -> dict:
    source, _ = intake_service.create_source(
        org["admin"], {"key": "servicenow", "name": "ServiceNow", "mapping": MAPPING})
    return {"intake_source": source.id}
