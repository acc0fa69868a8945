"""``shelf-edge validate-config FILE``: validate a configuration file and explain every problem.

Checks the document (every key, value and type; the environment's SHELF_EDGE_* overrides applied)
and then every path in it on this machine (edge.config_paths): files the daemons read must exist and
be readable, places they write must be writable. Run it as the service user to check permissions.
"""

from __future__ import annotations

import argparse
import sys

from edge.config import load_config
from edge.config_paths import check_paths
from edge.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="TOML configuration file")
    parser.add_argument(
        "--for",
        dest="daemon",
        choices=("edge", "bridge"),
        default=None,
        help="Check only the paths this daemon uses (default: every path).",
    )


def _report(source: str, issues: list[object]) -> int:
    print(f"{source}: {len(issues)} problem(s)", file=sys.stderr)
    for issue in issues:
        print(f"  {issue}", file=sys.stderr)
    return 1


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.file)
    except ConfigError as exc:
        return _report(exc.source, list(exc.issues))
    problems = check_paths(config, args.daemon)
    if problems:
        return _report(args.file, [p.issue() for p in problems])
    print(
        f"{args.file}: valid (store {config.gateway.store_id}, gateway {config.gateway.gateway_id}, "
        f"{len(config.bridge.shelves)} shelves, {len(config.displays)} displays; every path checked)"
    )
    return 0
