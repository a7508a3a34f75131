"""Every serializer written out by hand (registered with app.api.common.written_out)
writes exactly its schema's fields, nested ones too: a field added to the schema and not
to the serializer (or the other way round) fails here. Read from the serializer's code,
so no data is needed; test_job_list_items.py and test_visit_answers.py compare values."""
from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import textwrap

import marshmallow as ma
import pytest
from marshmallow import fields

import app.api
from app.api.common import WRITTEN_OUT, Schema, written_out

for module in pkgutil.walk_packages(app.api.__path__, "app.api."):
    importlib.import_module(module.name)


def returned_dict(serializer) -> ast.Dict:
    tree = ast.parse(textwrap.dedent(inspect.getsource(serializer)))
    returns = [node.value for node in ast.walk(tree)
               if isinstance(node, ast.Return) and isinstance(node.value, ast.Dict)]
    assert len(returns) == 1, f"{serializer.__name__} should return one dict literal"
    return returns[0]


def differences(written: ast.Dict, schema: ma.Schema, path: str = "") -> list[str]:
    """What the literal and the schema disagree on: 'missing x', 'extra y', nested too."""
    keys = [key.value for key in written.keys if isinstance(key, ast.Constant)]
    assert len(keys) == len(written.keys), "only literal keys, no **spread"
    found = [f"missing {path}{name}" for name in schema.fields if name not in keys]
    found += [f"extra {path}{name}" for name in keys if name not in schema.fields]
    for key, value in zip(keys, written.values):
        field = schema.fields.get(key)
        if isinstance(value, ast.Dict) and isinstance(field, fields.Nested):
            found += differences(value, field.schema, f"{path}{key}.")
    return found


def test_the_hand_written_serializers_are_registered():
    assert {serializer.__name__ for serializer in WRITTEN_OUT} >= {"job_item", "checked_in_answer"}


@pytest.mark.parametrize("serializer", list(WRITTEN_OUT), ids=lambda f: f.__name__)
def test_a_hand_written_serializer_writes_its_schemas_fields(serializer):
    schema = WRITTEN_OUT[serializer]()
    assert differences(returned_dict(serializer), schema) == []


class _Place(Schema):
    lat = fields.Float()
    lon = fields.Float()


class _Thing(Schema):
    id = fields.Integer()
    name = fields.String()
    place = fields.Nested(_Place)


def test_the_check_finds_a_field_missing_extra_or_nested():
    @written_out(_Thing)
    def thing(t):
        return {"id": t.id, "label": t.name, "place": {"lat": t.lat}}

    try:
        assert differences(returned_dict(thing), _Thing()) == [
            "missing name", "extra label", "missing place.lon"]
    finally:
        del WRITTEN_OUT[thing]
