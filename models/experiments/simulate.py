"""What a new rule set would have done on the logged decisions (pure): offers, budget use and
off-policy estimates of its conversions and margin against the running rules.

Inputs: the replays of every logged context under the running rules (which must reproduce the
log: same decision, same propensity) and under the new rules (:mod:`models.experiments.replay`),
and each logged decision's reward (conversion of the offered product within the visit, its
margin). Held-out decisions are left out: the estimate is for shoppers who are shown offers.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from models.experiments.aggregate import Picks, WindowSums
from models.experiments.ope import BanditLog, diagnose, estimate_all, recommend
from models.experiments.replay import NONE, Replayed

LOGGED_OUT = ("held-out", "no-consent", "no-shopper")


def decision_rewards(
    shopper: np.ndarray, product: np.ndarray, t: np.ndarray, picks: Picks, visit_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per decision (integer codes shared with ``picks``): whether the offered product was picked
    in ``[t, t + visit_s)`` and the margin of those picks. Product code -1: nothing offered."""
    n_products = int(max(product.max(initial=0), picks.product.max(initial=0))) + 1
    pair = picks.shopper * n_products + picks.product
    pairs, rank = np.unique(pair, return_inverse=True)
    t_min = float(min(t.min(initial=0.0), picks.t.min(initial=0.0))) - 1.0
    span = float(max(t.max(initial=0.0), picks.t.max(initial=0.0)) - t_min) + visit_s + 2.0
    sums = WindowSums(rank.astype(np.int64), picks.t, [np.ones(len(picks.t)), picks.margin], t_min, span)
    want = shopper * n_products + np.maximum(product, 0)
    pos = np.minimum(np.searchsorted(pairs, want), max(len(pairs) - 1, 0))
    found = (pairs[pos] == want) & (product >= 0) if len(pairs) else np.zeros(len(t), dtype=bool)
    count, margin = sums.between(pos.astype(np.int64), t, t + visit_s)
    return ((count > 0) & found).astype(np.float64), np.where(found, margin, 0.0)


@dataclass(frozen=True, slots=True)
class PolicyComparison:
    n_decisions: int
    shoppers: int
    offers_per_shopper: dict[str, float]
    budget_use: dict[str, dict[str, int | None]]
    estimates: dict[str, dict[str, object]]
    unsupported_share: float
    mismatched: int
    warnings: list[str]

    def to_dict(self) -> dict[str, object]:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


def _log(
    rows: Sequence[int], running: Sequence[Replayed], new: Sequence[Replayed], reward: np.ndarray
) -> BanditLog:
    """The bandit log of one reward: logged action, its propensity, the new policy's probability
    of it, and a per-product mean reward model for DR."""
    actions = [
        (running[i].logged.chosen or NONE) if running[i].logged.outcome == "offered" else NONE for i in rows
    ]
    r = reward[list(rows)]
    sums: dict[str, list[float]] = {}
    for a, value in zip(actions, r, strict=True):
        if a:
            sums.setdefault(a, []).append(float(value))
    offered_mean = float(np.mean([v for vs in sums.values() for v in vs])) if sums else 0.0
    q = {a: (sum(vs) + offered_mean) / (len(vs) + 1) for a, vs in sums.items()}  # shrunk to the mean

    def q_of(a: str) -> float:
        return 0.0 if a == NONE else q.get(a, offered_mean)

    p_log, p_new, q_logged, q_target = [], [], [], []
    for i, a in zip(rows, actions, strict=True):
        logged = running[i].logged
        p_log.append(logged.propensity if a else 1.0)
        target = new[i].probabilities or {NONE: 1.0}
        p_new.append(target.get(a, 0.0))
        q_logged.append(q_of(a))
        q_target.append(sum(p * q_of(b) for b, p in target.items()))
    f = np.asarray
    return BanditLog(
        r, f(p_log, dtype=float), f(p_new, dtype=float), f(q_logged, dtype=float), f(q_target, dtype=float)
    )


def compare_policies(
    running: Sequence[Replayed],
    new: Sequence[Replayed],
    converted: np.ndarray,
    margin: np.ndarray,
    budgets: dict[str, int | None],
    alpha: float = 0.05,
) -> PolicyComparison:
    warnings: list[str] = []
    mismatched = sum(
        1
        for r in running
        if r.record.decision_id != r.logged.decision_id
        or r.record.outcome != r.logged.outcome
        or r.record.chosen != r.logged.chosen
        or abs(r.record.propensity - r.logged.propensity) > 1e-6
    )
    if mismatched:
        warnings.append(
            f"{mismatched} of {len(running)} logged decisions are not reproduced by the running rules and "
            "catalogues given: the estimates assume they are"
        )
    rows = [i for i, r in enumerate(running) if r.logged.outcome not in LOGGED_OUT]
    shoppers = len({running[i].logged.shopper for i in rows})
    unsupported = 0.0
    for i in rows:
        logged_probs = running[i].probabilities or {NONE: 1.0}
        target = new[i].probabilities or {NONE: 1.0}
        unsupported += sum(p for a, p in target.items() if logged_probs.get(a, 0.0) <= 0)
    unsupported_share = unsupported / len(rows) if rows else 0.0
    if unsupported_share > 0:
        warnings.append(
            f"{100 * unsupported_share:.1f} % of the new policy's choices are ones the running policy never "
            "makes in that context (no support in the log): the estimates cannot see their effect"
        )
    estimates: dict[str, dict[str, object]] = {}
    for name, reward in (("conversions", converted), ("margin", margin)):
        if not rows:
            break
        log = _log(rows, running, new, reward)
        values = estimate_all(log, alpha)
        running_value = float(log.reward.mean())
        se = float(log.reward.std(ddof=1) / math.sqrt(log.n)) if log.n > 1 else math.inf
        z = float(stats.norm.ppf(1 - alpha / 2))
        diag = diagnose(log, alpha)
        warnings.extend(f"{name}: {w}" for w in diag.warnings)
        estimates[name] = {
            "per_decision": {
                "running": {
                    "value": running_value,
                    "ci_low": running_value - z * se,
                    "ci_high": running_value + z * se,
                },
                "new": {k: v.to_dict() for k, v in values.items()},
                "recommended": recommend(values),
            },
            "diagnostics": diag.to_dict(),
        }
    offers_running = sum(1 for i in rows if running[i].logged.outcome == "offered")
    offers_new = sum(1 for i in rows if new[i].probabilities)
    use_running = Counter(
        running[i].record.campaign_id for i in rows if running[i].logged.outcome == "offered"
    )
    use_new = Counter(new[i].record.campaign_id for i in rows if new[i].probabilities)
    budget_use: dict[str, dict[str, int | None]] = {
        c: {"running": use_running.get(c, 0), "new": use_new.get(c, 0), "budget": b}
        for c, b in budgets.items()
    }
    return PolicyComparison(
        len(rows),
        shoppers,
        {
            "running": offers_running / shoppers if shoppers else 0.0,
            "new": offers_new / shoppers if shoppers else 0.0,
        },
        budget_use,
        estimates,
        unsupported_share,
        mismatched,
        warnings,
    )
