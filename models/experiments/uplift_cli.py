"""``shelf-models uplift --events DIR --out REPORT``: the uplift report (HTML + JSON)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from edge.json_values import finite_or_none
from models.experiments.aggregate import DAY, Windows, cell_stats
from models.experiments.events_io import EventsError, read_events
from models.experiments.frequentist import AnalysisConfig
from models.experiments.report import HOLDOUT, ReportConfig, build_report
from models.experiments.report_html import render


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--events", required=True, help="directory with exposures/ and picks/ (Parquet or CSV)"
    )
    parser.add_argument(
        "--out", required=True, help="report directory: index.html and report.json are written"
    )
    parser.add_argument(
        "--rules",
        help="offer rules JSON whose experiment gives the configured shares (default: DIR/rules.json)",
    )
    parser.add_argument(
        "--visit-s", type=float, default=3600.0, help="length of 'the visit' after an offer, s"
    )
    parser.add_argument("--alpha", type=float, default=0.05, help="two-sided level (0.05: 95 %% intervals)")
    parser.add_argument(
        "--as-of", type=float, help="unix time the data is complete up to (default: last event)"
    )


def shares_from_rules(path: Path) -> tuple[dict[str, float], str]:
    """Configured share per arm (holdout_share for the holdout, the rest split by variant shares)
    and the variant held-out decisions are made as (the first)."""
    from edge.offers.sources import load_rules

    experiment = load_rules(path).experiment
    h = experiment.holdout_share
    return {HOLDOUT: h, **{v.name: (1 - h) * v.share for v in experiment.variants}}, experiment.variants[
        0
    ].name


def run(args: argparse.Namespace) -> int:
    from edge.errors import EdgeError

    events = Path(args.events)
    rules = Path(args.rules) if args.rules else events / "rules.json"
    try:
        shares, first = shares_from_rules(rules) if args.rules or rules.exists() else (None, None)
        data = read_events(events)
    except (EventsError, EdgeError) as exc:
        print(f"uplift: {' '.join(part.strip() for part in str(exc).splitlines())}", file=sys.stderr)
        return 2
    windows = Windows(visit_s=args.visit_s, as_of=args.as_of)
    stats = cell_stats(data.exposures, data.picks, windows)
    report = build_report(stats, data.labels, ReportConfig(AnalysisConfig(alpha=args.alpha), shares, first))
    as_of = args.as_of or float(max(data.exposures.t.max(), data.picks.t.max() if len(data.picks.t) else 0))
    report["source"] = str(events)
    report["as_of"] = datetime.fromtimestamp(as_of, UTC).strftime("%Y-%m-%d %H:%M UTC")
    report["windows"] = {"visit_s": args.visit_s, "pre_days": windows.pre_s / DAY}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(finite_or_none(report), indent=1, allow_nan=False))
    (out / "index.html").write_text(render(report))
    print(f"uplift report: {out / 'index.html'} (JSON: {out / 'report.json'})")
    return 0


def main_args(argv: list[str]) -> int:
    """``run`` from an argument list (for callers in Python, such as the demo)."""
    parser = argparse.ArgumentParser(prog="shelf-models uplift")
    add_arguments(parser)
    return run(parser.parse_args(argv))
