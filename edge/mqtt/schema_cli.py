"""``shelf-edge schemas --out DIR``: write one JSON schema per MQTT payload model."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edge.mqtt.payloads import PAYLOADS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="edge/mqtt/schemas", help="output directory (default: %(default)s)")


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, model in sorted(PAYLOADS.items()):
        path = out / f"{name}.schema.json"
        path.write_text(json.dumps(model.model_json_schema(), indent=2, sort_keys=True) + "\n")
        print(path)
    return 0
