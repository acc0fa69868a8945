"""``make bench-scale``: build + profiles on synthetic chains, Spark local mode vs the local engine.

For each size (customers): write the chain (``synth-transactions``), then run as separate processes
``shelf-models build --engine spark`` and ``shelf-models chain-profiles`` on its Parquet, and the
local engine (``shelf-models build``, then ``shelf-models profiles``, on the same lines as TX.csv)
until it fails or passes ``--local-limit`` / ``--local-profiles-limit`` seconds. Each process tree's peak resident memory (the Python driver plus, in local
mode, the one JVM that is both Spark driver and executor) is sampled from /proc every 0.2 s.
Prints one JSON line per figure (``{"bench": ..., "value": ..., "unit": ...}``), with the load
average before and after each step (the machine may be shared). Each step runs in its own session
at the bench's priority (``nice -n -15 make bench-scale`` as root raises it for every step).

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
    load_before: float  # 1-minute load average when it started
    load_after: float


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


def _same_priority(pid: int) -> None:
    """Give ``pid``'s new session the bench's priority: with the kernel's autogroup scheduling a
    session's nice value only counts inside the session, so ``nice -n -15 make bench-scale`` alone
    would not keep other sessions' processes from taking the CPU (see /proc/PID/autogroup)."""
    niceness = os.getpriority(os.PRIO_PROCESS, 0)
    try:
        with open(f"/proc/{pid}/autogroup", "w", encoding="ascii") as fh:
            fh.write(str(niceness))
    except OSError:  # no autogroup scheduling, or not allowed (a raised priority needs root)
        return


def measure(command: list[str], limit: float, log: Path) -> Run:
    """Run ``command``; wall time and the peak RSS of its process tree; stop it after ``limit`` s."""
    started = time.perf_counter()
    before = load_average()
    peak = 0
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        _same_priority(proc.pid)
        while proc.poll() is None:
            peak = max(peak, _tree_rss_kb(proc.pid))
            if time.perf_counter() - started > limit:
                os.killpg(proc.pid, 9)
                proc.wait()
                return Run(time.perf_counter() - started, peak / 1024, None, before, load_average())
            time.sleep(0.2)
    return Run(time.perf_counter() - started, peak / 1024, proc.returncode, before, load_average())


def _state(run: Run) -> str:
    return "stopped at the limit" if run.returncode is None else f"exit {run.returncode}"


def load_average() -> float:
    """The 1-minute load average (printed before and after each step: the machine may be shared)."""
    return os.getloadavg()[0]


def emit(name: str, value: float, unit: str) -> None:
    print(json.dumps({"bench": f"scale.{name}", "value": round(value, 3), "unit": unit}), flush=True)


def report(name: str, run: Run, lines: int) -> None:
    """One step's figures: wall time (with how it ended), peak memory, lines/s, load averages."""
    emit(f"{name}_seconds", run.seconds, f"s ({_state(run)})")
    emit(f"{name}_peak_rss", run.peak_rss_mb, "MB")
    if run.returncode == 0:
        emit(f"{name}_rows_per_s", lines / run.seconds, "lines/s")
    emit(f"{name}_load_before", run.load_before, "load average (1 min)")
    emit(f"{name}_load_after", run.load_after, "load average (1 min)")


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
    if "spark" in args.engines:
        spark_build = measure(
            [*cli, "build", "--engine", "spark", "--transactions", tx, "--out", str(folder / "model")],
            args.limit,
            folder / "spark-build.log",
        )
        report(f"{customers}.spark_build", spark_build, lines)
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
        report(f"{customers}.spark_profiles", profiles, lines)
    if "local" not in args.engines or args.local_limit <= 0:
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
    report(f"{customers}.local_build", local, lines)
    if local.returncode != 0 or args.local_profiles_limit <= 0:
        return
    local_profiles = measure(
        [
            *cli,
            "profiles",
            "--model",
            str(folder / "model-local"),
            "--transactions",
            str(csv_path),
            "--out",
            str(folder / "profiles-local.json"),
        ],
        args.local_profiles_limit,
        folder / "local-profiles.log",
    )
    report(f"{customers}.local_profiles", local_profiles, lines)


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
    parser.add_argument(
        "--local-profiles-limit",
        type=float,
        default=3600.0,
        help="Seconds for the local profiles job (neighbours among all customers; 0: skip).",
    )
    parser.add_argument(
        "--engines", nargs="+", choices=("spark", "local"), default=["spark", "local"], help="Engines to run."
    )
    args = parser.parse_args()
    for customers in args.customers:
        run_size(customers, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
