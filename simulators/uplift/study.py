"""Validation of the measurement jobs against the simulator's truth, over many seeds.

Per seed, three checks, each through the same files and functions the commands use:

* **coverage**: a chain with a true effect; the uplift report's 95 % interval of each checked
  (campaign, variant, metric) against the true uplift (the response model's expected effect of
  the offers shown, averaged over the exposed shoppers of the treated arm);
* **false positives**: the same chain with no effect; a false positive is an always-valid
  p-value under 0.05 at ANY weekly look (cumulative) of a variant against holdout;
* **policy**: the changed rules' value estimated by ``simulate-policy`` on the first run's log
  against the true value from running those rules on the same seed.

``shelf-sim uplift-study --seeds 100`` prints one JSON line per seed and a summary.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge.offers.rules import OfferRules
from models.experiments.aggregate import ALL_CAMPAIGNS, Windows, WindowSums, cell_stats
from models.experiments.events_io import read_events
from models.experiments.frequentist import AnalysisConfig
from models.experiments.report import ALL_LABEL, ReportConfig, build_report
from models.experiments.simulate_policy_cli import evaluate_rules
from simulators.uplift.chain import VISIT_S, ChainConfig, ChainRun, run_chain, sim_rules, write_run
from simulators.uplift.response import NO_EFFECT, ResponseModel

CHECKED_METRICS = (
    ("converted", "plain"),
    ("spend_visit", "plain"),
    ("spend_visit", "cuped"),
    ("margin_visit", "cuped"),
)


@dataclass(frozen=True, slots=True)
class StudyConfig:
    chain: ChainConfig = field(default_factory=lambda: ChainConfig(shoppers=800, weeks=6))
    response: ResponseModel = field(default_factory=ResponseModel)


def true_uplift(run: ChainRun) -> dict[tuple[str, str], dict[str, float]]:
    """Per (campaign, variant): the mean over the treated arm's exposed shoppers (anchored at their
    first exposure) of the expected effect on conversion, visit spend and visit margin."""
    exp = run.exposures
    treated = np.asarray(exp.column("group").to_pylist()) == "treated"
    t = np.asarray(exp.column("t").to_numpy())[treated]
    shopper_names = np.asarray(exp.column("shopper").to_pylist())[treated]
    campaign = np.asarray([c or "" for c in exp.column("campaign").to_pylist()])[treated]
    variant = np.asarray(exp.column("variant").to_pylist())[treated]
    e_product_at = np.asarray(exp.column("product").to_pylist())[treated]
    eff = run.effects
    names, shopper = np.unique(shopper_names, return_inverse=True)
    e_t = np.asarray(eff.column("t").to_numpy())
    e_shopper = np.searchsorted(names, np.asarray(eff.column("shopper").to_pylist()))
    spend = np.asarray(eff.column("spend").to_numpy())
    margin = np.asarray(eff.column("margin").to_numpy())
    e_product = np.asarray(eff.column("product").to_pylist())
    p1 = np.asarray(eff.column("p1").to_numpy())
    p0 = np.asarray(eff.column("p0").to_numpy())
    later = np.asarray(eff.column("later").to_pylist(), dtype=bool)
    by_shopper: dict[int, list[int]] = {}
    for i, sh in enumerate(e_shopper.tolist()):
        by_shopper.setdefault(sh, []).append(i)

    def conversion_effect(row: int) -> float:
        """P(the anchor's product is picked in the visit) shown minus not shown, over every exposure
        of that product to the shopper in the window (the same decisions happen in both worlds)."""
        sh, start = int(shopper[row]), float(t[row])
        same = [
            i
            for i in by_shopper.get(sh, [])
            if start <= e_t[i] < start + VISIT_S and e_product[i] == e_product_at[row]
        ]
        if any(later[i] for i in same):
            return 0.0
        return float(np.prod([1 - p0[i] for i in same]) - np.prod([1 - p1[i] for i in same]))

    t0 = float(min(e_t.min(), t.min())) - 1.0
    sums = WindowSums(
        e_shopper.astype(np.int64), e_t, [spend, margin], t0, float(e_t.max() - t0) + VISIT_S + 2.0
    )
    out: dict[tuple[str, str], dict[str, float]] = {}
    for camp in [ALL_CAMPAIGNS, *sorted(set(campaign.tolist()))]:
        for var in sorted(set(variant.tolist())):
            rows = np.flatnonzero((variant == var) & ((campaign == camp) if camp != ALL_CAMPAIGNS else True))
            if not rows.size:
                continue
            order = rows[np.lexsort((t[rows], shopper[rows]))]
            first = order[np.concatenate(([True], shopper[order][1:] != shopper[order][:-1]))]
            sp, mg = sums.between(shopper[first].astype(np.int64), t[first], t[first] + VISIT_S)
            name = ALL_LABEL if camp == ALL_CAMPAIGNS else (camp or "(organic)")
            out[(name, var)] = {
                "converted": float(np.mean([conversion_effect(int(r)) for r in first])),
                "spend_visit": float(sp.mean()),
                "margin_visit": float(mg.mean()),
            }
    return out


def _report(run: ChainRun, work: Path) -> dict[str, Any]:
    write_run(run, work)
    data = read_events(work)
    stats = cell_stats(data.exposures, data.picks, Windows(visit_s=VISIT_S, as_of=run.as_of))
    return build_report(stats, data.labels, ReportConfig(AnalysisConfig(), None))


def coverage_seed(config: StudyConfig, seed: int) -> dict[str, Any]:
    run = run_chain(config.chain, sim_rules(), config.response, seed)
    with tempfile.TemporaryDirectory(prefix="uplift-study-") as tmp:
        report = _report(run, Path(tmp))
        truth = true_uplift(run)
        checks = []
        for row in report["overall"]:
            key = (row["campaign"], row["variant"])
            if key not in truth or not row["like_for_like"]:
                continue
            for metric, kind in CHECKED_METRICS:
                alike = row["conversion_like_for_like"] or metric != "converted"
                res = row["metrics"][metric][kind]
                true = truth[key][metric]
                checks.append({"campaign": key[0], "variant": key[1], "metric": metric, "kind": kind,
                               "like_for_like": alike, "true": true, "estimate": res["absolute"], "ci": [res["ci_low"], res["ci_high"]],
                               "covered": bool(res["ci_low"] <= true <= res["ci_high"])})  # fmt: skip
        policy = policy_seed(run, config, seed, Path(tmp))
    return {"seed": seed, "checks": checks, "policy": policy}


def null_seed(config: StudyConfig, seed: int) -> dict[str, Any]:
    run = run_chain(config.chain, sim_rules(discount=False), NO_EFFECT, seed)
    with tempfile.TemporaryDirectory(prefix="uplift-null-") as tmp:
        report = _report(run, Path(tmp))
    looks: dict[str, list[float]] = {}
    final: dict[str, float] = {}
    for row in report["weekly"]:
        if row["campaign"] == ALL_LABEL:
            looks.setdefault(row["variant"], []).append(
                row["metrics"]["spend_visit"]["sequential"]["p_value"]
            )
    for row in report["overall"]:
        if row["campaign"] == ALL_LABEL:
            final[row["variant"]] = row["metrics"]["spend_visit"]["plain"]["p_value"]
    return {
        "seed": seed,
        "sequential_min_p": {v: min(ps) for v, ps in looks.items()},
        "looks": {v: len(ps) for v, ps in looks.items()},
        "fixed_final_p": final,
    }


def new_rules() -> OfferRules:
    """The changed rule set: three times the exploration, no novelty arm (within the log's support)."""
    return sim_rules(explore=0.3, novelty=0.0, version="sim-2")


def policy_seed(logged: ChainRun, config: StudyConfig, seed: int, root: Path) -> dict[str, Any]:
    rules = new_rules()
    new_run = run_chain(config.chain, rules, config.response, seed)
    result = evaluate_rules(root, rules, logged.rules)
    contexts = [
        e for e, o in zip(logged.decisions.column("event_id").to_pylist(), logged.decisions.column("outcome").to_pylist(), strict=True)
        if o not in ("held-out", "no-consent", "no-shopper")
    ]  # fmt: skip
    true = {
        "conversions": float(np.mean([new_run.true_value.get(e, (0.0, 0.0))[0] for e in contexts])),
        "margin": float(np.mean([new_run.true_value.get(e, (0.0, 0.0))[1] for e in contexts])),
    }
    out: dict[str, Any] = {
        "unsupported_share": result["unsupported_share"],
        "mismatched": result["mismatched"],
    }
    for name, est in result["estimates"].items():
        new = est["per_decision"]["new"]
        out[name] = {
            "true": true[name],
            "recommended": est["per_decision"]["recommended"],
            **{
                k: {"value": v["value"], "covered": bool(v["ci_low"] <= true[name] <= v["ci_high"])}
                for k, v in new.items()
                if k != "dm"
            },
        }
    return out


def summarise(coverage: list[dict[str, Any]], null: list[dict[str, Any]]) -> dict[str, Any]:
    cells: dict[str, list[bool]] = {}
    unlike: dict[str, list[bool]] = {}  # flagged in the report as not like-for-like: expected to miss
    for seed in coverage:
        for c in seed["checks"]:
            key = f"{c['campaign']}|{c['variant']}|{c['metric']}|{c['kind']}"
            target = cells if c.get("like_for_like", True) else unlike
            target.setdefault(key, []).append(c["covered"])
    pol: dict[str, list[bool]] = {}
    for seed in coverage:
        p = seed["policy"]
        for name in ("conversions", "margin"):
            for est in ("ips", "snips", "dr"):
                pol.setdefault(f"{name}|{est}", []).append(p[name][est]["covered"])
            rec = p[name]["recommended"]
            pol.setdefault(f"{name}|recommended", []).append(p[name][rec]["covered"])
    fp_seq = [p < 0.05 for s in null for p in s["sequential_min_p"].values()]
    fp_fixed = [p < 0.05 for s in null for p in s["fixed_final_p"].values()]
    return {
        "seeds": len(coverage),
        "uplift_coverage": {k: f"{sum(v)}/{len(v)}" for k, v in sorted(cells.items())},
        "uplift_coverage_min": min((sum(v) / len(v) for v in cells.values()), default=0.0),
        "flagged_not_like_for_like": {k: f"{sum(v)}/{len(v)}" for k, v in sorted(unlike.items())},
        "policy_coverage": {k: f"{sum(v)}/{len(v)}" for k, v in sorted(pol.items())},
        "null_seeds": len(null),
        "sequential_false_positives": f"{sum(fp_seq)}/{len(fp_seq)} (any weekly look, p < 0.05)",
        "fixed_horizon_false_positives_final_look": f"{sum(fp_fixed)}/{len(fp_fixed)}",
    }
