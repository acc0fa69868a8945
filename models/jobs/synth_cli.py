"""``shelf-models synth-transactions``: a synthetic chain fitted to ../shared/data, as partitioned Parquet."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from models.jobs.synth import ChainSpec, calibrated, write_chain
from models.jobs.synth_fit import Figures, fit_real

DEFAULT_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--customers", type=int, required=True, help="Loyalty customers in the chain.")
    parser.add_argument("--stores", type=int, required=True, help="Stores (Parquet partitions store=S).")
    parser.add_argument("--days", type=int, required=True, help="Days of history from 2025-01-01.")
    parser.add_argument("--seed", type=int, default=0, help="Random seed (same arguments, same output).")
    parser.add_argument("--out", type=Path, required=True, help="Folder: transactions/ and customers/.")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Real data to fit (../shared/data).")
    parser.add_argument("--chunk", type=int, default=25_000, help="Customers generated per numpy chunk.")


def comparison(real: Figures, synthetic: Figures) -> list[str]:
    """The fitted figures next to the real ones, one line each."""
    rows = [f"{'figure':34} {'real':>12} {'synthetic':>12}"]
    a, b = real.as_dict(), synthetic.as_dict()
    for name, value in a.items():
        if name in ("customers", "baskets"):
            continue
        if isinstance(value, tuple):
            for i, (x, y) in enumerate(zip(value, b[name], strict=True)):  # type: ignore[call-overload]
                rows.append(f"{name}[{i}]".ljust(34) + f" {x:12.4f} {y:12.4f}")
        else:
            rows.append(f"{name:34} {value:12.4f} {b[name]:12.4f}")
    return rows


def run(args: argparse.Namespace) -> int:
    if min(args.customers, args.stores, args.days, args.chunk) < 1:
        print("shelf-models synth-transactions: --customers, --stores, --days and --chunk must be >= 1")
        return 2
    try:
        fit, real = fit_real(args.data)
        fit = calibrated(fit, real, args.seed)
    except (OSError, KeyError, ValueError) as exc:
        print(f"shelf-models synth-transactions: cannot fit to {args.data}: {exc}")
        return 1
    spec = ChainSpec(args.customers, args.stores, args.days, args.seed, chunk=args.chunk)
    started = time.perf_counter()
    lines, synthetic = write_chain(fit, spec, args.out)
    took = time.perf_counter() - started
    print(
        f"wrote {lines} lines for {args.customers} customers, {args.stores} stores, {args.days} days "
        f"to {args.out} in {took:.1f} s ({lines / max(took, 1e-9):,.0f} lines/s)"
    )
    print(
        "real: Online Retail (basket size, visits, popularity, repeat rate, months), Complete Journey "
        f"(weekdays); synthetic: the first {min(spec.chunk, spec.customers)} customers over {args.days} days"
    )
    for row in comparison(real, synthetic):
        print(row)
    return 0
