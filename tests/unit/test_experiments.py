"""The measurement statistics: known numbers, identities and coded degenerate results."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from models.experiments.frequentist import (
    TOO_FEW_UNITS,
    ZERO_CONTROL_MEAN,
    ZERO_VARIANCE,
    AnalysisConfig,
    CupedTTest,
    SequentialTTest,
    TTest,
)
from models.experiments.ope import (
    BanditLog,
    DirectMethod,
    DoublyRobust,
    InverseProbabilityWeighting,
    PolicyLogError,
    SelfNormalizedInverseProbabilityWeighting,
    diagnose,
    estimate_all,
    recommend,
)
from models.experiments.srm import NO_SHARES, check_srm
from models.experiments.statistics import RegressionAdjustedStatistic, SampleMeanStatistic, pooled_theta


def stat(values: list[float]) -> SampleMeanStatistic:
    x = np.asarray(values, dtype=float)
    return SampleMeanStatistic(len(x), float(x.sum()), float((x * x).sum()))


def adjusted(post: list[float], pre: list[float]) -> RegressionAdjustedStatistic:
    return RegressionAdjustedStatistic(stat(post), stat(pre), float(np.dot(post, pre)))


CONTROL = [1.0, 2.0, 3.0, 4.0]
TREATED = [2.0, 3.0, 4.0, 5.0, 6.0]


def test_sample_mean_statistic_known_numbers_and_sum_of_parts() -> None:
    s = stat(CONTROL)
    assert (s.n, s.sum, s.sum_squares) == (4, 10.0, 30.0)
    assert s.mean == 2.5
    assert s.variance == pytest.approx(5 / 3)
    assert stat(CONTROL[:2]) + stat(CONTROL[2:]) == s
    assert SampleMeanStatistic(1, 3.0, 9.0).variance == 0.0


def test_welch_ttest_matches_scipy_and_hand_numbers() -> None:
    res = TTest(stat(CONTROL), stat(TREATED)).compute()
    welch = stats.ttest_ind(TREATED, CONTROL, equal_var=False)
    assert res.absolute == pytest.approx(1.5)
    assert res.p_value == pytest.approx(welch.pvalue, abs=1e-12)
    df = (5 / 12 + 0.5) ** 2 / ((5 / 12) ** 2 / 3 + 0.5**2 / 4)  # Welch-Satterthwaite by hand: 6.98077
    assert df == pytest.approx(6.98077, abs=1e-5)
    half = stats.t.ppf(0.975, df) * math.sqrt(5 / 12 + 0.5)
    assert (res.ci_low, res.ci_high) == pytest.approx((1.5 - half, 1.5 + half))
    assert res.ci_low == pytest.approx(-0.76522, abs=1e-5)
    assert res.relative == pytest.approx(0.6)  # 4 / 2.5 - 1
    # delta method: Var(mt/mc) = vt/mc^2 + vc mt^2/mc^4 = 0.5/6.25 + (5/12) 16/39.0625
    rel_se = math.sqrt(0.5 / 6.25 + (5 / 12) * 16 / 39.0625)
    assert res.relative_ci_high - res.relative == pytest.approx(stats.t.ppf(0.975, df) * rel_se)
    assert res.error is None


def test_sequential_interval_is_wider_and_its_p_value_inverts_it() -> None:
    config = AnalysisConfig(alpha=0.05, sequential_tuning=5000)
    fixed = TTest(stat(CONTROL), stat(TREATED), config).compute()
    seq = SequentialTTest(stat(CONTROL), stat(TREATED), config).compute()
    assert seq.absolute == fixed.absolute
    assert seq.ci_high - seq.ci_low > fixed.ci_high - fixed.ci_low
    assert seq.p_value >= fixed.p_value
    # at alpha = p the confidence sequence's edge touches 0 (rho kept at the configured alpha)
    rng = np.random.default_rng(3)
    c, t = stat(list(rng.normal(10, 3, 4000))), stat(list(rng.normal(10.3, 3, 4000)))
    test = SequentialTTest(c, t, config)
    res = test.compute()
    assert 0 < res.p_value < 1
    var = c.variance / c.n + t.variance / t.n
    rho2 = test._rho() ** 2
    n = c.n + t.n
    s2 = var * n
    half = math.sqrt(s2) * math.sqrt(
        2 * (n * rho2 + 1) / (n**2 * rho2) * math.log(math.sqrt(n * rho2 + 1) / res.p_value)
    )
    assert half == pytest.approx(abs(res.absolute), rel=1e-9)
    assert res.ci_high - res.absolute == pytest.approx(
        math.sqrt(s2)
        * math.sqrt(2 * (n * rho2 + 1) / (n**2 * rho2) * math.log(math.sqrt(n * rho2 + 1) / 0.05))
    )


def test_degenerate_inputs_give_coded_results() -> None:
    assert TTest(stat([1.0]), stat(TREATED)).compute().error == TOO_FEW_UNITS
    assert TTest(stat([2.0, 2.0]), stat([2.0, 2.0])).compute().error == ZERO_VARIANCE
    res = TTest(stat([0.0, 0.0, 0.0]), stat([0.0, 1.0, 0.0])).compute()
    assert res.error == ZERO_CONTROL_MEAN and res.relative is None and math.isfinite(res.ci_low)
    assert SequentialTTest(stat([]), stat([])).compute().error == TOO_FEW_UNITS


def test_cuped_without_covariate_equals_plain_and_with_one_narrows() -> None:
    flat = CupedTTest(adjusted(CONTROL, [1.0] * 4), adjusted(TREATED, [1.0] * 5)).compute()
    plain = TTest(stat(CONTROL), stat(TREATED)).compute()
    assert (flat.absolute, flat.ci_low, flat.ci_high, flat.p_value) == pytest.approx(
        (plain.absolute, plain.ci_low, plain.ci_high, plain.p_value)
    )
    rng = np.random.default_rng(7)
    pre_c, pre_t = rng.normal(20, 5, 500), rng.normal(20, 5, 500)
    post_c = pre_c + rng.normal(0, 1, 500)
    post_t = pre_t + 0.5 + rng.normal(0, 1, 500)
    a, b = adjusted(list(post_c), list(pre_c)), adjusted(list(post_t), list(pre_t))
    assert pooled_theta(a, b) == pytest.approx(1.0, abs=0.05)
    cuped = CupedTTest(a, b).compute()
    plain = TTest(a.post, b.post).compute()
    assert cuped.ci_high - cuped.ci_low < (plain.ci_high - plain.ci_low) / 3
    assert cuped.ci_low < 0.5 < cuped.ci_high


def test_srm_known_p_value_and_missing_shares() -> None:
    assert check_srm({"a": 100, "b": 100}, {"a": 0.5, "b": 0.5}).p_value == pytest.approx(1.0)
    res = check_srm({"a": 120, "b": 80}, {"a": 0.5, "b": 0.5})
    assert res.p_value == pytest.approx(0.0046777, abs=1e-7)  # chi2 = 8, 1 df
    assert not res.mismatch  # threshold 0.001
    assert check_srm({"a": 1300, "b": 1000, "h": 200}, {"a": 0.45, "b": 0.45, "h": 0.1}).mismatch
    assert check_srm({"a": 5}, {}).error == NO_SHARES


HAND_LOG = BanditLog(
    np.array([1.0, 0.0, 1.0, 0.0]), np.array([0.5, 0.5, 0.25, 1.0]), np.array([1.0, 0.0, 0.5, 1.0])
)


def test_ips_and_snips_hand_computed() -> None:
    # weights 2, 0, 2, 1; w r = 2, 0, 2, 0
    ips = InverseProbabilityWeighting().estimate(HAND_LOG)
    assert ips.value == pytest.approx(1.0)
    assert ips.std_error == pytest.approx(math.sqrt(4 / 3) / 2)  # sd of (2, 0, 2, 0) / sqrt(4)
    snips = SelfNormalizedInverseProbabilityWeighting().estimate(HAND_LOG)
    assert snips.value == pytest.approx(0.8)  # 4 / 5
    # delta method: sqrt(mean((w (r - 0.8))^2) / n) / mean(w) = sqrt((0.16+0+0.16+0.64)/4/4)/1.25
    assert snips.std_error == pytest.approx(math.sqrt(0.96 / 16) / 1.25)
    assert snips.ci_high - snips.value == pytest.approx(1.959964 * snips.std_error, rel=1e-6)
    clipped = InverseProbabilityWeighting(max_weight=1.0).estimate(HAND_LOG)
    assert clipped.value == pytest.approx(0.5)


def test_identities() -> None:
    rng = np.random.default_rng(11)
    reward = rng.binomial(1, 0.3, 1000).astype(float)
    p = rng.uniform(0.1, 1.0, 1000)
    on_policy = BanditLog(reward, p, p.copy())  # target = logging: every weight is 1
    assert SelfNormalizedInverseProbabilityWeighting().estimate(on_policy).value == pytest.approx(
        reward.mean()
    )
    assert InverseProbabilityWeighting().estimate(on_policy).value == pytest.approx(reward.mean())
    target = rng.uniform(0.0, 1.0, 1000)
    q_l, q_t = rng.uniform(0, 1, 1000), rng.uniform(0, 1, 1000)
    zero_model = BanditLog(reward, p, target, np.zeros(1000), np.zeros(1000))
    assert DoublyRobust().estimate(zero_model).value == pytest.approx(
        InverseProbabilityWeighting().estimate(zero_model).value
    )
    never = BanditLog(reward, p, np.zeros(1000), q_l, q_t)  # the target never takes a logged action
    assert DoublyRobust().estimate(never).value == pytest.approx(DirectMethod().estimate(never).value)
    assert (
        0.0 <= SelfNormalizedInverseProbabilityWeighting().estimate(BanditLog(reward, p, target)).value <= 1.0
    )
    assert math.isnan(
        SelfNormalizedInverseProbabilityWeighting().estimate(BanditLog(reward, p, np.zeros(1000))).value
    )


def test_recommendation_and_diagnostics() -> None:
    est = estimate_all(HAND_LOG)
    assert set(est) == {"ips", "snips"} and recommend(est) == "snips"
    with_model = BanditLog(HAND_LOG.reward, HAND_LOG.logging_propensity, HAND_LOG.target_probability,
                           HAND_LOG.reward.copy(), np.full(4, 0.5))  # fmt: skip
    est = estimate_all(with_model)
    assert set(est) == {"ips", "snips", "dr", "dm"}
    assert recommend(est) == "dr"  # a perfect reward model: DR has no variance left from w (r - q)
    d = diagnose(HAND_LOG)
    assert d.mean_weight == pytest.approx(1.25) and d.effective_sample_size == pytest.approx(25 / 9)
    assert d.zero_weight_share == 0.25
    skewed = BanditLog(np.ones(400), np.full(400, 0.5), np.full(400, 0.25))
    assert any("excludes 1" in w for w in diagnose(skewed).warnings)


@pytest.mark.parametrize(
    ("prop", "target", "message"),
    [
        (0.0, 0.5, "logging_propensity must be in (0, 1], row 2 has 0.0"),
        (1.5, 0.5, "logging_propensity must be in (0, 1], row 2 has 1.5"),
        (math.nan, 0.5, "logging_propensity is not a finite number in row 2"),
        (0.5, -0.1, "target_probability must be in [0, 1], row 2 has -0.1"),
    ],
)
def test_bad_logs_are_refused_with_one_clear_line(prop: float, target: float, message: str) -> None:
    with pytest.raises(PolicyLogError) as err:
        BanditLog(np.array([1.0, 0.0]), np.array([0.5, prop]), np.array([0.5, target]))
    assert str(err.value) == message
    with pytest.raises(PolicyLogError, match="no rows"):
        BanditLog(np.zeros(0), np.zeros(0), np.zeros(0))
    with pytest.raises(PolicyLogError, match="must come together"):
        BanditLog(np.ones(1), np.ones(1), np.ones(1), np.ones(1), None)


def test_intervals_cover_a_known_policy_value_on_synthetic_bandit_logs() -> None:
    """Open-Bandit-like logs: 10 actions, a softmax logging policy, a sharper target policy,
    Bernoulli rewards with known means; the 95 % intervals of IPS, SNIPS and DR cover the true
    value in about 95 % of 300 logs."""
    rng = np.random.default_rng(21)
    n, k, reps = 3000, 10, 300
    covered = {"ips": 0, "snips": 0, "dr": 0}
    for _ in range(reps):
        x = rng.normal(size=(n, 1))
        means = 0.05 + 0.1 / (1 + np.exp(-(x * np.linspace(-1, 1, k))))  # n x k reward means
        logit = 0.5 * np.linspace(0, 1, k) * x
        logging = np.exp(logit) / np.exp(logit).sum(axis=1, keepdims=True)
        target = np.exp(3 * logit) / np.exp(3 * logit).sum(axis=1, keepdims=True)
        truth = float((target * means).sum(axis=1).mean())
        action = (logging.cumsum(axis=1) > rng.uniform(size=(n, 1))).argmax(axis=1)
        rows = np.arange(n)
        reward = (rng.uniform(size=n) < means[rows, action]).astype(float)
        q = means + rng.normal(0, 0.02, size=(n, k))  # a decent reward model
        log = BanditLog(
            reward, logging[rows, action], target[rows, action], q[rows, action], (target * q).sum(axis=1)
        )
        for name, est in estimate_all(log).items():
            if name in covered:
                covered[name] += est.ci_low <= truth <= est.ci_high
    assert all(c >= 0.9 * reps for c in covered.values()), covered


def test_daily_peeking_keeps_the_sequential_false_positive_rate_under_alpha() -> None:
    """200 experiments with no effect, looked at every day for 40 days (skewed spend, 40 shoppers
    per arm and day): the always-valid p-value dips under 0.05 in at most 5 % of them, the plain
    t-test's in far more (the reason managers must not peek at fixed-horizon p-values)."""
    rng = np.random.default_rng(17)
    experiments, days, per_day = 200, 40, 40
    seq_alarm = plain_alarm = 0
    for _ in range(experiments):
        a = rng.lognormal(2.0, 1.0, size=(days, per_day))
        b = rng.lognormal(2.0, 1.0, size=(days, per_day))
        sa, sb = np.cumsum(a.sum(axis=1)), np.cumsum(b.sum(axis=1))
        qa, qb = np.cumsum((a * a).sum(axis=1)), np.cumsum((b * b).sum(axis=1))
        seq_hit = plain_hit = False
        for d in range(days):
            n = (d + 1) * per_day
            c, t = SampleMeanStatistic(n, sa[d], qa[d]), SampleMeanStatistic(n, sb[d], qb[d])
            seq_hit = seq_hit or SequentialTTest(c, t).compute().p_value < 0.05
            plain_hit = plain_hit or TTest(c, t).compute().p_value < 0.05
        seq_alarm += seq_hit
        plain_alarm += plain_hit
    assert seq_alarm <= 0.05 * experiments, seq_alarm
    assert plain_alarm > 2 * seq_alarm and plain_alarm > 0.1 * experiments, plain_alarm
