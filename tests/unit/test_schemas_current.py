"""The JSON schemas committed in edge/mqtt/schemas are generated from the pydantic models: keep them current."""

import json
from pathlib import Path

from edge.mqtt.payloads import PAYLOADS

SCHEMAS = Path(__file__).parents[2] / "edge" / "mqtt" / "schemas"


def test_committed_schemas_match_models():
    stale = []
    for name, model in PAYLOADS.items():
        path = SCHEMAS / f"{name}.schema.json"
        if not path.exists() or json.loads(path.read_text()) != model.model_json_schema():
            stale.append(name)
    assert not stale, f"regenerate with `shelf-edge schemas --out edge/mqtt/schemas`: {stale}"
