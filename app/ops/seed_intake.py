"""The demo's service desk: a ServiceNow-shaped intake source and one delivered ticket."""
from __future__ import annotations

import json
from datetime import timedelta
from zoneinfo import ZoneInfo

from app.api.intake.schemas import SERVICENOW_MAPPING
from app.api.intake.webhook_doc import SERVICENOW_PAYLOAD
from app.domain.intake import sign
from app.models import IntakeDelivery, IntakeSource, Site, User
from app.models.types import utcnow
from app.services import intake

DESK_ZONE = ZoneInfo("Asia/Shanghai")  # the desk's times come without an offset


def seed_intake(admin: User, sites: list[Site]) -> tuple[IntakeSource, str, IntakeDelivery]:
    """The source (its location codes mapped to the demo's sites), its secret, and the
    delivery of one incident through the signed webhook's own path."""
    mapping = dict(SERVICENOW_MAPPING)
    mapping["site"] = {"path": "/location/value",
                       "map": {f"LOC-SH-{n:04d}": site.id for n, site in enumerate(sites, 1)}}
    source, secret = intake.create_source(admin, {
        "key": "servicenow", "name": "ServiceNow (IT service desk)", "mapping": mapping})
    now = utcnow()
    opened = (now - timedelta(minutes=25)).astimezone(DESK_ZONE)
    payload = SERVICENOW_PAYLOAD | {"opened_at": opened.strftime("%Y-%m-%d %H:%M:%S"),
                                    "u_scheduled_date": opened.date().isoformat()}
    body = json.dumps(payload, ensure_ascii=False).encode()
    timestamp = str(int(now.timestamp()))
    delivery = intake.receive(source.key, timestamp, sign(secret, timestamp, body), body, None)
    return source, secret, delivery
