"""``make bench-scale``: build + profiles on synthetic chains, Spark local mode vs the local engine.

For each size (customers): write the chain (``synth-transactions``), then run as separate processes
``shelf-models build --engine spark`` and ``shelf-models chain-profiles`` on its Parquet, and the
local engine (``shelf-models build`` on the same lines as TX.csv) until it fails or passes
``--local-limit`` seconds. Each process tree's peak resident memory (the Python driver plus, in local
mode, the one JVM that is both Spark driver and executor) is sampled from /proc every 0.2 s.
Prints one JSON line per figure (``{"bench": ..., "value": ..., "unit": ...}``).

    python -m models.jobs.bench_scale --customers 100000 300000 1000000 --days 90 --out var/bench-scale
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.dataset as ds


@dataclass(frozen=True, slots=True)
class Run:
    seconds: float
    peak_rss_mb: float
    returncode: int | None  # None: stopped at the limit


def _tree_rss_kb(root: int) -> int:
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/statm", encoding="ascii") as fh:
                pages = int(fh.read().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
        rss[int(entry)] = pages * (os.sysconf("SC_PAGE_SIZE") // 1024)
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def measure(command: list[str], limit: float, log: Path) -> Run:
    """Run ``command``; wall time and the peak RSS of its process tree; stop it after ``limit`` s."""
    started = time.perf_counter()
    peak = 0
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        while proc.poll() is None:
            peak = max(peak, _tree_rss_kb(proc.pid))
            if time.perf_counter() - started > limit:
                os.killpg(proc.pid, 9)
                proc.wait()
                return Run(time.perf_counter() - started, peak / 1024, None)
            time.sleep(0.2)
    return Run(time.perf_counter() - started, peak / 1024, proc.returncode)


def _state(run: Run) -> str:
    return "stopped at the limit" if run.returncode is None else f"exit {run.returncode}"


def emit(name: str, value: float, unit: str) -> None:
    print(json.dumps({"bench": f"scale.{name}", "value": round(value, 3), "unit": unit}), flush=True)


def run_size(customers: int, args: argparse.Namespace) -> None:
    cli = [sys.executable, "-m", "models.cli"]
    folder = args.out / f"c{customers}"
    chain = folder / "chain"
    folder.mkdir(parents=True, exist_ok=True)
    if not (chain / "transactions").exists():
        gen = measure(
            [
                *cli,
                "synth-transactions",
                "--customers",
                str(customers),
                "--stores",
                str(args.stores),
                "--days",
                str(args.days),
                "--seed",
                "1",
                "--out",
                str(chain),
            ],
            args.limit,
            folder / "synth.log",
        )
        emit(f"{customers}.synth_seconds", gen.seconds, "s")
    lines = ds.dataset(str(chain / "transactions"), format="parquet", partitioning="hive").count_rows()
    emit(f"{customers}.lines", lines, "lines")
    tx = str(chain / "transactions")
    spark_build = measure(
        [*cli, "build", "--engine", "spark", "--transactions", tx, "--out", str(folder / "model")],
        args.limit,
        folder / "spark-build.log",
    )
    emit(f"{customers}.spark_build_seconds", spark_build.seconds, f"s ({_state(spark_build)})")
    emit(f"{customers}.spark_build_peak_rss", spark_build.peak_rss_mb, "MB")
    if spark_build.returncode == 0:
        emit(f"{customers}.spark_build_rows_per_s", lines / spark_build.seconds, "lines/s")
    profiles = measure(
        [
            *cli,
            "chain-profiles",
            "--model",
            str(folder / "model"),
            "--transactions",
            tx,
            "--out",
            str(folder / "profiles"),
        ],
        args.limit,
        folder / "spark-profiles.log",
    )
    emit(f"{customers}.spark_profiles_seconds", profiles.seconds, f"s ({_state(profiles)})")
    emit(f"{customers}.spark_profiles_peak_rss", profiles.peak_rss_mb, "MB")
    if profiles.returncode == 0:
        emit(f"{customers}.spark_profiles_rows_per_s", lines / profiles.seconds, "lines/s")
    if args.local_limit <= 0:
        return
    csv_path = folder / "tx.csv"
    if not csv_path.exists():
        table = ds.dataset(tx, format="parquet", partitioning="hive").to_table(
            columns=["basket_id", "customer_id", "product_id", "timestamp", "quantity", "price"]
        )
        pacsv.write_csv(table, str(csv_path))
    local = measure(
        [
            *cli,
            "build",
            "--transactions",
            str(csv_path),
            "--out",
            str(folder / "model-local"),
            "--no-tune",
            "--quiet",
        ],
        args.local_limit,
        folder / "local-build.log",
    )
    emit(f"{customers}.local_build_seconds", local.seconds, f"s ({_state(local)})")
    emit(f"{customers}.local_build_peak_rss", local.peak_rss_mb, "MB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--stores", type=int, default=50)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--out", type=Path, default=Path("var/bench-scale"))
    parser.add_argument("--limit", type=float, default=3600.0, help="Seconds before a Spark step is stopped.")
    parser.add_argument(
        "--local-limit", type=float, default=3600.0, help="Seconds for the local engine (0: skip)."
    )
    args = parser.parse_args()
    for customers in args.customers:
        run_size(customers, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
