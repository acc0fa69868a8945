"""``shelf-edge validate-config FILE``: validate a configuration file and explain every problem."""

from __future__ import annotations

import argparse
import sys

from edge.config import load_config
from edge.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="TOML configuration file")


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.file)
    except ConfigError as exc:
        print(f"{args.file}: {len(exc.issues)} problem(s)", file=sys.stderr)
        for issue in exc.issues:
            print(f"  {issue}", file=sys.stderr)
        return 1
    print(
        f"{args.file}: valid (store {config.gateway.store_id}, gateway {config.gateway.gateway_id}, "
        f"{len(config.bridge.shelves)} shelves, {len(config.displays)} displays)"
    )
    return 0
