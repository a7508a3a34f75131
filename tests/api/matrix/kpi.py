"""KPIs: schemes (read by all, replaced by admins), cards and their records (the engineer,
their supervisor, admins), the team board and export (supervisors and admins), the close
(admins)."""
from __future__ import annotations

import copy

from app.domain.kpi import DEFAULT_SCHEMES
from tests.api.matrix import ENGINEERS_403, SUPERVISORS_403, expect

SCHEME_BODY = copy.deepcopy(DEFAULT_SCHEMES["mid-field"])
CARD = expect(everyone=404, eng_a1=200, sup_a=200, admin=200)

ROWS = [
    ("GET", "/api/v1/kpi/metrics", "kpi/metrics", {}, expect(everyone=200)),
    ("GET", "/api/v1/kpi/schemes", "kpi/schemes", {}, expect(everyone=200)),
    ("GET", "/api/v1/kpi/schemes/<string:key>", "kpi/schemes/mid-field", {}, expect(everyone=200)),
    ("PUT", "/api/v1/kpi/schemes/<string:key>", "kpi/schemes/mid-field", {"json": SCHEME_BODY},
     expect(everyone=403, admin=200)),
    ("GET", "/api/v1/kpi/engineers/<int:engineer_id>", "kpi/engineers/{kpi_engineer}", {}, CARD),
    ("GET", "/api/v1/kpi/engineers/<int:engineer_id>/history",
     "kpi/engineers/{kpi_engineer}/history?months=3", {}, CARD),
    ("GET", "/api/v1/kpi/engineers/<int:engineer_id>/records",
     "kpi/engineers/{kpi_engineer}/records?metric=nps", {}, CARD),
    ("GET", "/api/v1/kpi/team", "kpi/team", {}, expect(everyone=200, **ENGINEERS_403)),
    ("GET", "/api/v1/kpi/export", "kpi/export?format=csv", {}, expect(everyone=200, **ENGINEERS_403)),
    ("POST", "/api/v1/kpi/periods/<string:period>/close", "kpi/periods/{kpi_past_period}/close", {},
     expect(everyone=403, admin=200, **SUPERVISORS_403)),
]


def world(app, org, factory) -> dict:
    return {"kpi_engineer": org["eng_a1"].id, "kpi_past_period": "2020-01"}
