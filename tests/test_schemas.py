"""The published JSON Schemas under schemas/ match the models they are generated from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from riskgrade.packs import pack_json_schema
from riskgrade.records import record_json_schema

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"


def _generated() -> dict[str, object]:
    packs = pack_json_schema()
    records = record_json_schema()
    return {
        "pack.schema.json": packs["pack.yaml"],
        "scheme.schema.json": packs["scheme"],
        "enterprise.schema.json": records["enterprise"],
        "event.schema.json": records["event"],
    }


@pytest.mark.parametrize("name", sorted(_generated()))
def test_published_schema_is_current(name: str) -> None:
    expected = json.dumps(_generated()[name], ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    actual = (SCHEMAS / name).read_text(encoding="utf-8")
    assert expected == actual, f"regenerate schemas/{name} (see schemas/README.md)"


def test_scheme_schema_rejects_unknown_keys_like_the_loader() -> None:
    schema = _generated()["scheme.schema.json"]
    assert isinstance(schema, dict)
    assert schema["additionalProperties"] is False
