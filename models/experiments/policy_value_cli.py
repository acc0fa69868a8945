"""``shelf-models policy-value --log LOG.csv [--json]``: off-policy estimates on a plain log."""

from __future__ import annotations

import argparse
import json
import sys

from models.experiments.logs_io import read_bandit_log
from models.experiments.ope import PolicyLogError, diagnose, estimate_all, recommend


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log",
        required=True,
        help="CSV with reward,logging_propensity,target_probability "
        "[,reward_model_logged,reward_model_target for DR]",
    )
    parser.add_argument("--json", action="store_true", help="print JSON (default: a short table)")
    parser.add_argument("--alpha", type=float, default=0.05, help="two-sided level of the intervals (0.05)")


def run(args: argparse.Namespace) -> int:
    if not 0 < args.alpha < 1:
        print("policy-value: --alpha must be in (0, 1)", file=sys.stderr)
        return 2
    try:
        log = read_bandit_log(args.log)
    except PolicyLogError as exc:
        print(f"policy-value: {exc}", file=sys.stderr)
        return 2
    estimates = estimate_all(log, args.alpha)
    out = {
        "n": log.n,
        "estimators": {name: est.to_dict() for name, est in estimates.items()},
        "recommended": recommend(estimates),
        "diagnostics": diagnose(log, args.alpha).to_dict(),
    }
    if args.json:
        print(json.dumps(out, indent=2, allow_nan=False, default=_nan))
        return 0
    print(f"n = {log.n}, recommended: {out['recommended']}")
    for name, est in estimates.items():
        print(f"  {name:6s} {est.value:.6f}  [{est.ci_low:.6f}, {est.ci_high:.6f}]")
    for warning in out["diagnostics"]["warnings"]:  # type: ignore[index]
        print(f"  warning: {warning}")
    return 0


def _nan(value: object) -> object:
    return None
