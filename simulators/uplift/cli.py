"""``shelf-sim uplift-events`` (write a simulated chain's export) and ``shelf-sim uplift-study``
(the measurement jobs against the simulator's truth over many seeds)."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seeds", type=int, default=100, help="how many seeds (0 .. N-1)")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--out", help="also write every seed's JSON line and the summary to this file")


def _one(seed: int) -> dict[str, Any]:
    from simulators.uplift.study import StudyConfig, coverage_seed, null_seed

    config = StudyConfig()
    return {"coverage": coverage_seed(config, seed), "null": null_seed(config, seed)}


def run(args: argparse.Namespace) -> int:
    from simulators.uplift.study import summarise

    seeds = range(args.first_seed, args.first_seed + args.seeds)
    results = []
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(Path(args.out).open("w")) if args.out else None
        pool = stack.enter_context(ProcessPoolExecutor(max_workers=max(1, args.jobs)))
        for result in pool.map(_one, seeds):
            results.append(result)
            line = json.dumps(result)
            if out:
                out.write(line + "\n")
                out.flush()
            print(f"seed {result['coverage']['seed']} done", file=sys.stderr)
        summary = summarise([r["coverage"] for r in results], [r["null"] for r in results])
        text = json.dumps({"summary": summary}, indent=1)
        if out:
            out.write(text + "\n")
    print(text)
    return 0
