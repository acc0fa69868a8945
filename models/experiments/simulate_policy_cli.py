"""``shelf-models simulate-policy --rules NEW.json --decisions DIR``: a new rule set on past decisions.

``DIR`` is the central export: ``decisions/`` (decision contexts), ``picks/``, ``catalogues/<store>.csv``
and the running ``rules.json`` (or ``--running``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from edge.offers.rules import OfferRules
from models.experiments.decisions_io import read_decisions
from models.experiments.events_io import EventsError, read_picks
from models.experiments.replay import replay
from models.experiments.simulate import compare_policies, decision_rewards


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rules", required=True, help="the new offer rules JSON to try")
    parser.add_argument(
        "--decisions", required=True, help="export directory: decisions/, picks/, catalogues/, rules.json"
    )
    parser.add_argument("--running", help="the rules that made the log (default: DIR/rules.json)")
    parser.add_argument(
        "--catalogues", help="directory of <store_id>.csv catalogues (default: DIR/catalogues)"
    )
    parser.add_argument(
        "--reward-s",
        type=float,
        default=300.0,
        help="a decision's reward: the offered product picked within this many s (the edge's conversion window)",
    )
    parser.add_argument("--alpha", type=float, default=0.05, help="two-sided level of the intervals")
    parser.add_argument("--out", help="write the JSON here as well as printing it")


def evaluate_rules(
    root: Path,
    new_rules: OfferRules,
    running_rules: OfferRules,
    catalogue_dir: Path | None = None,
    reward_s: float = 300.0,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """Read the export at ``root``, replay both rule sets, compare them (raises EventsError,
    CatalogueError on bad files)."""
    from edge.offers.catalogue import Catalogue

    decisions = read_decisions(root)
    stores = sorted({d.store for d in decisions})
    cat_dir = catalogue_dir or root / "catalogues"
    catalogues = {}
    for store in stores:
        if not (cat_dir / f"{store}.csv").exists():
            raise EventsError(f"{cat_dir}: no catalogue {store}.csv for store {store}")
        catalogues[store] = Catalogue.load(cat_dir / f"{store}.csv")
    picks, shoppers, products = read_picks(root)
    running = replay(decisions, running_rules, catalogues)
    new = replay(decisions, new_rules, catalogues)
    shopper_code = {s: i for i, s in enumerate(shoppers)}
    product_code = {p: i for i, p in enumerate(products)}
    s = np.array([shopper_code.get(d.shopper, -1) for d in decisions], dtype=np.int64)
    a = np.array(
        [product_code.get(d.chosen, -1) if d.outcome == "offered" and d.chosen else -1 for d in decisions],
        dtype=np.int64,
    )
    a[s < 0] = -1
    t = np.array([d.t for d in decisions])
    converted, margin = decision_rewards(np.maximum(s, 0), a, t, picks, reward_s)
    budgets = {c.campaign_id: c.budget_offers for c in new_rules.campaigns}
    result = compare_policies(running, new, converted, margin, budgets, alpha).to_dict()
    result["running_rules"] = running_rules.version
    result["new_rules"] = new_rules.version
    return result


def run(args: argparse.Namespace) -> int:
    from edge.errors import EdgeError
    from edge.offers.sources import load_rules

    root = Path(args.decisions)
    try:
        new_rules = load_rules(args.rules)
        running_rules = load_rules(args.running or root / "rules.json")
        catalogues = Path(args.catalogues) if args.catalogues else None
        result = evaluate_rules(root, new_rules, running_rules, catalogues, args.reward_s, args.alpha)
    except (EventsError, EdgeError) as exc:
        print(f"simulate-policy: {' '.join(part.strip() for part in str(exc).splitlines())}", file=sys.stderr)
        return 2
    text = json.dumps(result, indent=1)
    if args.out:
        Path(args.out).write_text(text)
    print(text)
    for warning in result["warnings"]:
        print(f"simulate-policy: warning: {warning}", file=sys.stderr)
    return 0
