"""``python -m tests.benchmarks [NAME ...]``: run the benchmark modules and print one JSON line per figure.

Each ``tests/benchmarks/bench_<component>.py`` defines ``main() -> list[dict]``; every dict has
``bench`` (``<component>.<figure>``), ``value``, ``unit`` and ``baseline`` (the comparable figure
measured in the same run). Modules run one at a time in their own process, pinned to one core
where the machine allows, so one benchmark's memory and threads do not disturb the next.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main(argv: list[str]) -> int:
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if argv:
        names = [n for n in names if any(a in n for a in argv)]
    failed = []
    for name in names:
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
        cmd = [
            sys.executable,
            "-c",
            f"import json,tests.benchmarks.{name} as m\nfor r in m.main(): print(json.dumps(r), flush=True)",
        ]
        if hasattr(os, "sched_setaffinity") and os.cpu_count() and os.cpu_count() > 1:
            cmd = ["taskset", "-c", "0", *cmd]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        sys.stdout.write(proc.stdout)
        if proc.returncode != 0:
            failed.append(name)
            sys.stderr.write(proc.stderr[-4000:])
            print(
                json.dumps(
                    {"bench": f"{name}.failed", "value": proc.returncode, "unit": "exit code", "baseline": 0}
                )
            )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
