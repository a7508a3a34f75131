"""The OpenAPI description of the intake webhook: how to sign, and two desks' payloads."""
from __future__ import annotations

import json

from app.api.intake.schemas import SERVICENOW_MAPPING, ZENDESK_MAPPING
from app.domain.intake import SIGNATURE_HEADER, TIMESTAMP_HEADER

SERVICENOW_PAYLOAD = {
    "sys_id": "9d385017c611228701d22104cc95c371",
    "number": "INC0010042",
    "short_description": "空调室内机漏水 Air conditioner leaking in meeting room 3",
    "description": "Water dripping from the indoor unit since this morning.",
    "priority": "2",
    "urgency": "2",
    "category": "facilities",
    "location": {"value": "LOC-SH-0001", "display_value": "Lujiazui Tower"},
    "cmdb_ci": {"value": "a9c0c8d2c6112276018f7705562f9cb0", "display_value": "AC-3F-07"},
    "opened_at": "2026-12-01 08:15:00",
    "u_scheduled_date": "2026-12-02",
    "caller_id": {"display_value": "Zhou Min"},
}

ZENDESK_PAYLOAD = {
    "ticket": {
        "id": 35436,
        "url": "https://example.zendesk.com/api/v2/tickets/35436.json",
        "subject": "Dishwasher not draining",
        "description": "The kitchen dishwasher leaves standing water after each cycle.",
        "priority": "high",
        "status": "open",
        "created_at": "2026-12-01T09:30:00Z",
        "tags": ["kitchen", "appliance"],
        "custom_fields": [{"id": 360001, "value": "appliance"}],
        "organization": {"id": 9001, "external_id": "org-shanghai-lujiazui"},
        "requester": {"name": "Chen Li"},
    }
}

SIGNING = (
    "No session or token: the signature is the authentication, and no CSRF header is "
    f"needed. Sign each delivery with the source's secret: `{SIGNATURE_HEADER}: "
    "sha256=<hex>`, the HMAC-SHA256 of `<timestamp>.<raw body>`, where `<timestamp>` is "
    f"the Unix time in seconds sent as `{TIMESTAMP_HEADER}`. A timestamp more than 5 minutes "
    "(INTAKE_TIMESTAMP_TOLERANCE_S) from the server's clock is refused. The payload is any "
    "JSON the source's field mapping reads (examples: a ServiceNow incident, a Zendesk "
    "ticket webhook). The same ticket id delivered again answers the same job with 200. "
    "Refusals are problem documents, logged in GET /intake-deliveries: 404 UNKNOWN_SOURCE, "
    "403 SOURCE_DISABLED, 401 SIGNATURE_MISSING, TIMESTAMP_INVALID, SIGNATURE_INVALID, "
    "SECRET_UNREADABLE (the server's SECRET_KEY changed: rotate the secret), "
    "TIMESTAMP_STALE, 400 MALFORMED_REQUEST, 422 MAPPING_FAILED (`errors.mapping` names "
    "the fields), 413 PAYLOAD_TOO_LARGE beyond 1 MB; 429 (not logged) beyond "
    "INTAKE_RATE_LIMIT per source."
)

WEBHOOK_DOC = {
    "description": SIGNING,
    "parameters": [
        {"name": SIGNATURE_HEADER, "in": "header", "required": True,
         "schema": {"type": "string", "pattern": "^sha256=[0-9a-f]{64}$"},
         "description": "sha256=<hex HMAC-SHA256 of timestamp + '.' + raw body>"},
        {"name": TIMESTAMP_HEADER, "in": "header", "required": True,
         "schema": {"type": "string", "pattern": "^[0-9]{1,12}$"},
         "description": "When the delivery was signed, in Unix seconds."},
    ],
    "requestBody": {
        "required": True,
        "content": {"application/json": {
            "schema": {"type": "object"},
            "examples": {
                "servicenow": {
                    "summary": "A ServiceNow incident (outbound REST message)",
                    "description": "With the mapping: `" + json.dumps(SERVICENOW_MAPPING) + "`",
                    "value": SERVICENOW_PAYLOAD,
                },
                "zendesk": {
                    "summary": "A Zendesk ticket (webhook with a JSON body)",
                    "description": "With the mapping: `" + json.dumps(ZENDESK_MAPPING) + "`",
                    "value": ZENDESK_PAYLOAD,
                },
            },
        }},
    },
}
