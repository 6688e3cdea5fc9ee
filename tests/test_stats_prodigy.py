"""Prodigy rho's permutation test and configuration-resampling interval, the plateau check of
the final window, and the retention helpers."""

import itertools
import math

import numpy as np
import pytest
import scipy.stats

from bootstrap_rl import stats


def test_spearman_permutation_pvalue_by_hand_and_against_scipy():
    x = np.array([1.0, 2.0, 3.0])
    assert stats.spearman_permutation_pvalue(x, x) == pytest.approx(1 / 6)  # 1 of 3! orders
    assert stats.spearman_permutation_pvalue(x, x[::-1]) == 1.0
    assert stats.spearman_permutation_pvalue(x, x, alternative="two-sided") == pytest.approx(2 / 6)
    assert stats.spearman_permutation_pvalue(np.arange(4.0), np.arange(4.0)) == pytest.approx(1 / 24)
    assert math.isnan(stats.spearman_permutation_pvalue(x, np.ones(3)))  # constant: no rho
    assert math.isnan(stats.spearman_permutation_pvalue(x[:2], x[:2]))
    rng = np.random.default_rng(0)
    u, v = rng.normal(size=7), rng.normal(size=7)
    v[2] = v[5]  # a tie
    observed = scipy.stats.spearmanr(u, v).statistic
    null = [scipy.stats.spearmanr(u, v[list(order)]).statistic
            for order in itertools.permutations(range(7))]
    ref = np.mean(np.array(null) >= observed - 1e-12)  # every one of the 7! orders
    assert stats.spearman_permutation_pvalue(u, v) == pytest.approx(ref, abs=1e-12)
    with pytest.raises(ValueError, match="alternative"):
        stats.spearman_permutation_pvalue(x, x, alternative="up")


def planted(seed, configs=12, seeds=5, relation=True):
    """Early and final scores of configurations: a monotone relation (final quality = early
    quality = the configuration's index) with per-configuration noise about the spacing between
    configurations, or independent qualities."""
    rng = np.random.default_rng(seed)
    quality = np.arange(configs, dtype=np.float64)
    final_quality = quality if relation else rng.permutation(quality)
    noise = lambda: rng.normal(0, 1.0, (configs, 1)) + rng.normal(0, 1.0, (configs, seeds))  # noqa: E731
    return quality[:, None] + noise(), final_quality[:, None] + noise()


def test_interval_excludes_zero_for_a_planted_relation_and_mostly_not_under_independence():
    found = [stats.prodigy_correlation(*planted(s), resamples=500, permutations=2000, seed=s)
             for s in range(20)]
    assert all(r.interval.available and r.n_configs == 12 for r in found)
    assert np.mean([r.interval.low > 0 for r in found]) >= 0.9
    assert np.mean([r.p_value <= 0.05 for r in found]) >= 0.9
    null = [stats.prodigy_correlation(*planted(100 + s, relation=False), resamples=500,
                                      permutations=500, seed=s) for s in range(150)]
    excluded = np.mean([r.interval.excludes(0.0) for r in null])
    assert excluded <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / 150)  # it was 63% resampling seeds only
    assert np.mean([r.p_value <= 0.05 for r in null]) <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / 150)


def test_no_interval_below_five_configurations():
    early, final = planted(1, configs=4)
    out = stats.prodigy_correlation(early, final)
    assert out.n_configs == 4 and not math.isnan(out.rho)
    assert not out.interval.available and "at least 5" in out.interval.reason
    assert out.interval.format() == "n/a" and out.to_json()["interval"]["low"] is None
    assert stats.prodigy_correlation(*planted(1, configs=5), resamples=100).interval.available
    early[0, 0] = np.nan
    assert stats.prodigy_correlation(early, final).dropped_configs == 1
    with pytest.raises(ValueError, match="one shape"):
        stats.prodigy_correlation(early, final[:, :2])


def test_two_level_bootstrap_draws_configurations_then_seeds():
    early = np.arange(6.0)[:, None] * 10 + np.arange(3.0)  # config c, seed s -> 10 c + s
    rho = stats.two_level_bootstrap_rho(early, early, resamples=200)
    assert rho.shape == (200,)
    finite = rho[~np.isnan(rho)]
    assert finite.size > 150 and (finite > 0.5).all()  # identical windows: strongly positive


def test_final_rise_by_hand():
    steps = np.arange(0, 101, 10.0)
    curves = np.stack([steps / 100, np.full(steps.size, 0.5), steps / 100])
    curves[2, -1] = np.nan
    # window (90, 100] holds one evaluation: the last two (90 and 100) are used
    rise = stats.final_rise(curves, steps, 100)
    np.testing.assert_allclose(rise[:2], [0.1, 0.0])
    assert np.isnan(rise[2])  # one finite point left
    # window (70, 100]: 80, 90, 100 -> least-squares slope 0.01 per step times the window's
    # 20-step span; seed 2's slope comes from 80 and 90 only, and is scaled to the same span
    np.testing.assert_allclose(stats.final_rise(curves, steps, 100, fraction=0.3), [0.2, 0.0, 0.2])


def test_plateau_check_flags_a_rising_curve_and_not_a_flat_one():
    rng = np.random.default_rng(2)
    steps = np.linspace(0, 1e6, 41)
    rising = 0.6 * steps / 1e6 + rng.normal(0, 0.01, (10, steps.size))
    flat = 0.6 * (1 - np.exp(-20 * steps / 1e6)) + rng.normal(0, 0.01, (10, steps.size))
    up = stats.plateau_check(stats.final_rise(rising, steps, 1e6))
    assert up.still_rising and up.detectable and up.n == 10
    assert up.interval.contains(0.6 * 0.075)  # slope 0.6 per budget over the window's 75k steps
    level = stats.plateau_check(stats.final_rise(flat, steps, 1e6))
    assert not level.still_rising and abs(level.rise) < 0.02
    few = stats.plateau_check([0.1, 0.2, 0.3])
    assert not few.detectable and not few.interval.available  # 2^-3 > 0.05: cannot flag
    assert stats.plateau_check([np.nan]).n == 0


def test_retention_and_forgetting_are_paired_differences():
    rng = np.random.default_rng(3)
    direct = rng.uniform(0.0, 0.1, 10)
    child = direct + 0.4 + rng.normal(0, 0.02, 10)
    kept = stats.retention_vs_baseline(child, direct, arm="childhood/hyper", split="turn")
    assert kept.reference == "direct" and kept.split == "turn"
    assert kept.difference == stats.paired_difference(child, direct)
    assert kept.difference.interval.low > 0.3
    lost = stats.forgetting(child + 0.1, child, arm="childhood/hyper", split="turn")
    assert lost.reference == "end of turn" and lost.difference.mean == pytest.approx(0.1)
    assert lost.to_json()["difference"]["n"] == 10


def test_stage_summary_gives_an_iqm_per_stage():
    rng = np.random.default_rng(4)
    out = stats.stage_summary({"turn": rng.uniform(size=10), "goto": [0.1, 0.2]})
    assert set(out) == {"turn", "goto"}
    assert out["turn"].interval.available and out["turn"].n == 10
    assert not out["goto"].interval.available and out["goto"].estimate == pytest.approx(0.15)
