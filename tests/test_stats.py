"""Statistics against rliable's definitions and against synthetic data with planted effects."""

import numpy as np
import pytest
from scipy import stats as scipy_stats

from bootstrap_rl import stats


def test_iqm_by_hand():
    # rliable: IQM = scipy.stats.trim_mean(scores, proportiontocut=0.25): the middle 50%.
    assert stats.iqm(np.arange(1, 9)) == pytest.approx(4.5)  # mean(3, 4, 5, 6)
    assert stats.iqm([1.0, 2.0, 3.0, 100.0]) == pytest.approx(2.5)  # the outlier is cut
    assert stats.iqm([5.0, 1.0, 9.0, 3.0, 7.0]) == pytest.approx(5.0)  # 1 cut per side of 5
    np.testing.assert_allclose(stats.iqm(np.array([[1, 10], [2, 20], [3, 30], [400, 40]]), axis=0),
                               [2.5, 25.0])


def numpy_percentile_bootstrap(scores, resamples, rng):
    picks = rng.integers(0, len(scores), size=(resamples, len(scores)))
    resampled = np.sort(scores[picks], axis=1)
    cut = len(scores) // 4
    means = resampled[:, cut:len(scores) - cut].mean(axis=1)
    return np.percentile(means, [2.5, 97.5])


def test_bootstrap_ci_matches_a_reference_bootstrap():
    rng = np.random.default_rng(0)
    scores = rng.normal(100, 20, size=16)
    low, high = stats.bootstrap_ci(scores, resamples=20_000)
    ref_low, ref_high = numpy_percentile_bootstrap(scores, 20_000, np.random.default_rng(1))
    assert low == pytest.approx(ref_low, abs=1.0)
    assert high == pytest.approx(ref_high, abs=1.0)
    assert low < stats.iqm(scores) < high


def test_band_agrees_with_pointwise_ci_and_detects_a_planted_gap():
    rng = np.random.default_rng(0)
    curves = np.stack([rng.normal(0, 1, size=10), rng.normal(5, 1, size=10)], axis=1)  # [seeds, 2]
    centre, low, high = stats.iqm_band(curves, resamples=20_000)
    for point in range(2):
        ci = stats.bootstrap_ci(curves[:, point], resamples=20_000)
        assert (low[point], high[point]) == pytest.approx(ci, abs=0.1)
    assert high[0] < low[1]  # a planted difference of 5 sd is resolved


def test_degenerate_and_bad_input():
    assert stats.bootstrap_ci([3.0]) == (3.0, 3.0)
    assert stats.bootstrap_ci([2.0, 2.0, 2.0]) == (2.0, 2.0)
    with pytest.raises(ValueError, match="NaN"):
        stats.bootstrap_ci([1.0, np.nan])


def test_final_window_is_the_mean_of_the_last_tenth():
    curves = np.array([np.arange(20.0), np.r_[np.zeros(18), np.nan, 4.0]])
    np.testing.assert_allclose(stats.final_window(curves, 0.1), [18.5, 4.0])


# --------------------------------------------------------------------------------------------
# Stratified bootstrap and probability of improvement, against rliable's definitions.


def rliable_probability_of_improvement(scores_x, scores_y):
    """rliable.metrics.probability_of_improvement, transcribed literally."""
    from scipy.stats import mannwhitneyu

    num_tasks = scores_x.shape[1]
    task_improvement_probabilities = []
    num_runs_x, num_runs_y = scores_x.shape[0], scores_y.shape[0]
    for task in range(num_tasks):
        if np.array_equal(scores_x[:, task], scores_y[:, task]):
            task_improvement_prob = 0.5
        else:
            task_improvement_prob, _ = mannwhitneyu(scores_x[:, task], scores_y[:, task],
                                                    alternative="greater")
            task_improvement_prob /= num_runs_x * num_runs_y
        task_improvement_probabilities.append(task_improvement_prob)
    return np.mean(task_improvement_probabilities)


@pytest.mark.parametrize("runs_x, runs_y, tasks, rounding", [(10, 10, 1, None), (7, 12, 3, None),
                                                               (9, 5, 2, 0)])
def test_poi_equals_rliable(runs_x, runs_y, tasks, rounding):
    rng = np.random.default_rng(runs_x * 100 + runs_y)
    x = rng.normal(0.3, 1, size=(runs_x, tasks))
    y = rng.normal(0.0, 1, size=(runs_y, tasks))
    if rounding is not None:  # many ties across the arms
        x, y = np.round(x, rounding), np.round(y, rounding)
    assert stats.probability_of_improvement(x, y) == pytest.approx(
        rliable_probability_of_improvement(x, y), abs=1e-12)


def test_poi_by_hand():
    assert stats.probability_of_improvement([3, 4], [1, 2]) == 1.0
    assert stats.probability_of_improvement([1, 2], [3, 4]) == 0.0
    assert stats.probability_of_improvement([1, 2, 3], [1, 2, 3]) == 0.5
    # pairs: (2>1), (2=2), (2<3) -> (1 + 0.5 + 0) / 3
    assert stats.probability_of_improvement([2], [1, 2, 3]) == pytest.approx(0.5)
    assert stats.probability_of_improvement([[1, 10]], [[0, 20]]) == 0.5  # task 1 won, task 2 lost


def test_stratified_resampling_stays_within_each_task():
    scores = np.stack([np.arange(6.0), 100 + np.arange(6.0)], axis=1)  # [runs, 2 tasks]
    resampled = stats._stratified_resample(scores, 200, np.random.default_rng(0))
    assert resampled.shape == (200, 6, 2)
    assert np.isin(resampled[..., 0], scores[:, 0]).all()
    assert np.isin(resampled[..., 1], scores[:, 1]).all()
    # cells are drawn independently (rliable draws one run index per (run, task) cell)
    assert not np.array_equal(resampled[..., 0], resampled[..., 1] - 100)


def rliable_stratified_percentile_ci(scores, func, reps, rng):
    """rliable's StratifiedBootstrap + percentile conf_int, without arch: the same index draw."""
    runs, tasks = scores.shape
    task_index = np.ogrid[0:runs, 0:tasks][1]
    values = []
    for _ in range(reps):
        indices = rng.choice(runs, (runs, tasks), replace=True)
        values.append(func(scores[indices, task_index]))
    return np.percentile(values, [2.5, 97.5])


def test_stratified_bootstrap_ci_matches_rliable_procedure():
    rng = np.random.default_rng(3)
    scores = rng.gamma(2.0, 1.0, size=(12, 3))
    rliable_iqm = lambda s: scipy_stats.trim_mean(s, proportiontocut=0.25, axis=None)  # noqa: E731
    ours = stats.stratified_bootstrap_ci(scores, resamples=20_000)
    ref = rliable_stratified_percentile_ci(scores, rliable_iqm, 4_000, np.random.default_rng(4))
    assert ours["estimate"] == pytest.approx(rliable_iqm(scores))
    assert (ours["ci_low"], ours["ci_high"]) == pytest.approx(tuple(ref), abs=0.03)
    # one task: the same as the plain seed bootstrap
    one = stats.stratified_bootstrap_ci(scores[:, 0], resamples=20_000)
    assert (one["ci_low"], one["ci_high"]) == pytest.approx(
        stats.bootstrap_ci(scores[:, 0], resamples=20_000), abs=0.05)
    assert stats.stratified_bootstrap_ci([2.0])["ci_low"] == 2.0
    mean = stats.stratified_bootstrap_ci(scores, stats.aggregate_mean, resamples=100)
    assert mean["estimate"] == pytest.approx(scores.mean())


def test_poi_ci_covers_one_half_under_the_null():
    rng = np.random.default_rng(0)
    trials, covered = 100, 0
    for trial in range(trials):
        x, y = rng.normal(size=10), rng.normal(size=10)  # identical distributions
        ci = stats.poi_with_ci(x, y, resamples=500, seed=trial)
        covered += ci["ci_low"] <= 0.5 <= ci["ci_high"]
    assert covered / trials >= 0.9


def test_poi_ci_resolves_a_planted_improvement():
    rng = np.random.default_rng(1)
    out = stats.poi_with_ci(rng.normal(2.0, 1, size=10), rng.normal(0, 1, size=10))
    assert out["ci_low"] > 0.5 and out["poi"] > 0.8
    assert out["ci_low"] <= out["poi"] <= out["ci_high"]


def test_improvement_pvalue_exact_and_holm_by_hand():
    # every x above every y, 5 v 5: the exact one-sided p-value is 1 / C(10, 5) = 1/252
    assert stats.improvement_pvalue([6, 7, 8, 9, 10], [1, 2, 3, 4, 5]) == pytest.approx(1 / 252)
    assert stats.improvement_pvalue([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]) == pytest.approx(1.0)
    assert stats.improvement_pvalue([1, 1], [1, 1]) == 1.0
    assert np.isnan(stats.improvement_pvalue([], [1.0]))
    # Holm, m = 4. Ascending: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> the
    # running maximum makes the last 0.06. Back in input order:
    np.testing.assert_allclose(stats.holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(stats.holm([0.5, np.nan, 0.4]), [0.8, np.nan, 0.8])
    np.testing.assert_allclose(stats.holm([0.9, 0.6]), [1.0, 1.0])  # clipped at 1
    assert stats.holm([]).shape == (0,)


def test_legacy_signature_needs_a_confident_late_win_and_an_early_loss():
    early_loss, early_win = {"poi": 0.3}, {"poi": 0.7}
    late_win, late_unsure = {"ci_low": 0.6}, {"ci_low": 0.45}
    assert stats.slow_child_strong_adult(early_loss, late_win)
    assert not stats.slow_child_strong_adult(early_win, late_win)  # prodigy, not slow child
    assert not stats.slow_child_strong_adult(early_loss, late_unsure)
    assert not stats.slow_child_strong_adult({"poi": np.nan}, late_win)


# --------------------------------------------------------------------------------------------
# Windows, crossover, prodigy rho.


def test_windows_by_env_steps():
    steps = np.arange(0, 101, 10.0)  # evaluations at 0, 10, ..., 100 of a budget of 100
    curves = np.stack([steps, steps * 2])
    curves[1, 2] = np.nan
    # early (0, 20]: the points at 10 and 20 (step 0 is the untrained network)
    np.testing.assert_allclose(stats.early_window(curves, steps, 100), [15.0, 20.0])
    # final (90, ...]: only the point at 100
    np.testing.assert_allclose(stats.final_window(curves, env_steps=steps, total_env_steps=100),
                               [100.0, 200.0])
    np.testing.assert_allclose(stats.window_scores(curves, steps, 40, 60), [55.0, 110.0])
    assert np.isnan(stats.early_window(curves[:, :1], steps[:1], 100)).all()  # empty window
    with pytest.raises(ValueError, match="total_env_steps"):
        stats.final_window(curves, env_steps=steps)


def test_crossover_step_by_hand():
    steps = np.array([0, 10, 20, 30, 40])
    b = np.zeros(5)
    assert stats.crossover_step([1, -1, 1, 1, 1], b, steps) == 20  # stays above from 20 on
    assert stats.crossover_step([1, 1, 1, 1, 1], b, steps) == 0
    assert np.isnan(stats.crossover_step([1, 1, 1, 1, 0], b, steps))  # a tie at the end: not above
    batched = stats.crossover_step(np.array([[-1, -1, -1, -1, 1], [1, 1, 1, -1, -1]]), b, steps)
    np.testing.assert_array_equal(batched, [40, np.nan])


def test_crossover_recovers_a_planted_crossover():
    rng = np.random.default_rng(0)
    steps = np.linspace(0, 1_000_000, 101)
    # slow child: A is linear 0 -> 1, B saturates at 0.6: they cross where t = 0.6 (600k steps)
    a = steps / steps[-1] + rng.normal(0, 0.05, size=(10, steps.size))
    b = np.minimum(0.6, 3 * steps / steps[-1]) + rng.normal(0, 0.05, size=(10, steps.size))
    samples, summary = stats.crossover(a, b, steps, resamples=500, seed=1)
    assert samples.shape == (500,)
    assert summary["fraction_crossed"] > 0.95
    assert summary["median"] == pytest.approx(600_000, abs=40_000)
    assert summary["ci_low"] <= summary["median"] <= summary["ci_high"]
    assert summary["ci_high"] - summary["ci_low"] < 150_000
    # the reverse comparison never crosses: B ends below A
    _, reverse = stats.crossover(b, a, steps, resamples=200)
    assert reverse["fraction_crossed"] < 0.05 and np.isnan(reverse["point"])


@pytest.mark.parametrize("permutation_seed", [0, 1, 2])
def test_prodigy_rho_recovers_a_planted_rank_relation(permutation_seed):
    configs, seeds = 12, 5
    order = np.random.default_rng(permutation_seed).permutation(configs)
    planted = scipy_stats.spearmanr(np.arange(configs), order).statistic
    rng = np.random.default_rng(10 + permutation_seed)
    # config i's early quality has rank i, its final quality rank order[i]; seeds add noise well
    # below the spacing between configurations, so the ranks survive
    early = np.arange(configs)[:, None] + rng.normal(0, 0.1, size=(configs, seeds))
    final = order[:, None] + rng.normal(0, 0.1, size=(configs, seeds))
    out = stats.prodigy_rho(early, final, resamples=500)
    assert out["n_configs"] == configs
    assert out["rho"] == pytest.approx(planted, abs=0.05)
    # the interval is about a population of configurations like these, so it is wide at 12
    assert out["ci_low"] <= planted <= out["ci_high"]


def test_prodigy_rho_interval_resamples_configurations_and_handles_edge_cases():
    configs, seeds = 10, 6
    rng = np.random.default_rng(0)
    quality = np.arange(configs)[:, None]
    clean = stats.prodigy_rho(quality + rng.normal(0, 0.05, (configs, seeds)),
                              quality + rng.normal(0, 0.05, (configs, seeds)), resamples=300)
    noisy = stats.prodigy_rho(quality + rng.normal(0, 4, (configs, seeds)),
                              quality + rng.normal(0, 4, (configs, seeds)), resamples=300)
    assert clean["rho"] == pytest.approx(1.0) and clean["ci_low"] > 0.8
    assert clean["p_value"] == pytest.approx(1 / 10_001)  # Monte Carlo: nothing beats rho = 1
    assert noisy["ci_high"] - noisy["ci_low"] > 0.3
    early = quality + np.zeros((configs, seeds))
    early[3, 0] = np.nan
    assert stats.prodigy_rho(early, early, resamples=10)["n_configs"] == configs - 1
    assert np.isnan(stats.prodigy_rho(early[:2], early[:2])["rho"])  # too few configurations
    # 3 configurations in perfect order: rho = 1, but no interval (it used to print [1, 1]),
    # and the exact permutation p-value is 1/3! = 1/6
    three = stats.prodigy_rho(quality[:3] + rng.normal(0, 0.01, (3, seeds)),
                              quality[:3] + rng.normal(0, 0.01, (3, seeds)))
    assert three["rho"] == 1.0 and np.isnan(three["ci_low"]) and np.isnan(three["ci_high"])
    assert "at least 5" in three["interval_reason"]
    assert three["p_value"] == pytest.approx(1 / 6)


def test_vectorised_rank_correlation_is_spearmanr():
    rng = np.random.default_rng(0)
    u, v = np.round(rng.normal(size=(20, 8)), 1), np.round(rng.normal(size=(20, 8)), 1)  # ties
    ours = stats._rank_correlation_rows(u, v)
    ref = [scipy_stats.spearmanr(a, b).statistic for a, b in zip(u, v)]
    np.testing.assert_allclose(ours, ref)
