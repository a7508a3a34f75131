"""The weekly report: supervisors (their own team) and admins (the company, any team)."""
from __future__ import annotations

from tests.api.matrix import ENGINEERS_403, expect

ROWS = [
    ("GET", "/api/v1/reports/weekly", "reports/weekly?week=2026-W01", {},
     expect(everyone=200, **ENGINEERS_403)),
]
ROWS.append(
    ("GET", "/api/v1/reports/weekly", "reports/weekly?week=2026-W01&supervisor_id={report_team}", {},
     expect(everyone=200, sup_b=403, **ENGINEERS_403)),
)


def world(app, org, factory) -> dict:
    return {"report_team": org["sup_a"].id}
ROWS.append(
    ("GET", "/api/v1/reports/weekly.pdf", "reports/weekly.pdf?week=2026-W01&lang=en", {},
     expect(everyone=200, **ENGINEERS_403)),
)
