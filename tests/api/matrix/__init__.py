"""The authorization matrix, one module per area: each has `ROWS` and may have
`world(app, org, factory) -> dict` adding the ids its paths name (`{job}`, say).

A row is (method, Flask URL rule, path with {placeholders}, request kwargs, expected
status by actor). The test in tests/api/test_authorization_matrix.py joins them all.
"""
from __future__ import annotations

ACTORS = ("anonymous", "eng_a1", "eng_a2", "eng_b1", "sup_a", "sup_b", "admin")
ENGINEERS_403 = {"eng_a1": 403, "eng_a2": 403, "eng_b1": 403}
SUPERVISORS_403 = {"sup_a": 403, "sup_b": 403}


def expect(anonymous: int = 401, **statuses: int) -> dict[str, int]:
    """Statuses by actor; `everyone` sets the default for the signed-in ones."""
    everyone = statuses.pop("everyone", None)
    table = {actor: everyone for actor in ACTORS[1:]}
    table.update(statuses)
    table["anonymous"] = anonymous
    assert None not in table.values(), table
    return table
