"""The paired sign-flip test and its interval: hand-computed answers, scipy's exact permutation
test, a planted effect, the null's rejection rate, coverage; and the interval formatting."""

import itertools
import json
import math

import numpy as np
import pytest
import scipy.stats

from bootstrap_rl import stats


def test_sign_flip_pvalue_by_hand():
    # n = 3, all positive: only the observed arrangement reaches T -> 1/8 one-sided
    assert stats.sign_flip_pvalue([1.0, 2.0, 3.0]) == 1 / 8
    assert stats.sign_flip_pvalue([1.0, 2.0, 3.0], alternative="less") == 1.0
    assert stats.sign_flip_pvalue([1.0, 2.0, 3.0], alternative="two-sided") == 2 / 8
    # 1 + 2 - 3: the 8 flipped sums are 0, 6, -4, 2, -2, 4, -6, 0; five are >= T = 0
    assert stats.sign_flip_pvalue([1.0, 2.0, -3.0]) == 5 / 8
    assert stats.sign_flip_pvalue([1.0, 2.0, 3.0, 4.0]) == 1 / 16
    # a zero difference flips onto itself: the observed T is reached twice
    assert stats.sign_flip_pvalue([0.0, 1.0, 2.0]) == 2 / 8
    assert stats.sign_flip_pvalue(np.zeros(5)) == 1.0
    # against a null value: d - 1 = (-1, 0, 1) -> flipped sums >= 0 in 6 of 8
    assert stats.sign_flip_pvalue([0.0, 1.0, 2.0], null=1.0) == 6 / 8
    # rounding must not break ties: 0.1 + 0.2 vs 0.3
    assert stats.sign_flip_pvalue([0.1, 0.2, -0.3]) == 5 / 8


def test_sign_flip_pvalue_equals_scipys_exact_permutation_test():
    rng = np.random.default_rng(0)
    for n in (5, 8, 11):
        d = rng.normal(0.3, 1, size=n)
        for alternative in ("greater", "less", "two-sided"):
            ref = scipy.stats.permutation_test((d,), np.mean, permutation_type="samples",
                                               alternative=alternative, n_resamples=np.inf)
            assert stats.sign_flip_pvalue(d, alternative=alternative) == pytest.approx(
                ref.pvalue, abs=1e-12)


def test_sign_flip_pvalue_is_batched_and_monte_carlo_beyond_16():
    rng = np.random.default_rng(1)
    d = rng.normal(0.2, 1, size=(4, 9))
    np.testing.assert_allclose(stats.sign_flip_pvalue(d), [stats.sign_flip_pvalue(r) for r in d])
    big = rng.normal(0.5, 1, size=17)
    exact = scipy.stats.permutation_test((big,), np.mean, permutation_type="samples",
                                         alternative="greater", n_resamples=np.inf).pvalue
    mc = stats.sign_flip_test(big)
    assert "Monte Carlo" in mc.method and mc.n == 17
    assert mc.p_value == pytest.approx(exact, abs=3 * math.sqrt(exact / 20_000) + 1e-4)
    assert stats.sign_flip_pvalue(np.full(20, 1.0)) == pytest.approx(1 / 20_001)  # (1 + 0) / (1 + B)
    with pytest.raises(ValueError, match="NaN"):
        stats.sign_flip_pvalue([1.0, np.nan])
    with pytest.raises(ValueError, match="alternative"):
        stats.sign_flip_pvalue([1.0], alternative="bigger")


def brute_force_interval(d, confidence=0.95):
    """Hartigan's bounds from every nonempty subset's mean, by itertools."""
    means = sorted(np.mean(c) for r in range(1, len(d) + 1)
                   for c in itertools.combinations(d, r))
    k = math.floor((1 - confidence) / 2 * 2 ** len(d))
    return means[k - 1], means[-k]


def test_sign_flip_interval_by_hand_and_by_brute_force():
    # n = 6: k = floor(0.025 * 64) = 1, so the bounds are the smallest and largest subset
    # means: the smallest and largest single difference
    assert stats.sign_flip_interval([1.0, 2, 3, 4, 5, 6]) == (1.0, 6.0)
    rng = np.random.default_rng(2)
    for n in (7, 9, 12):
        d = rng.normal(size=n)
        assert stats.sign_flip_interval(d) == pytest.approx(brute_force_interval(d))
    # fewer than 6 seeds: 2^n < 40 flips cannot give 95%
    assert stats.sign_flip_interval([1.0, 2, 3, 4, 5]) == (-math.inf, math.inf)


def test_interval_and_test_agree():
    # the 95% interval excludes 0 from above exactly when the one-sided p-value is <= 2.5%
    rng = np.random.default_rng(3)
    d = rng.normal(0.6, 1, size=(400, 10))
    low, _ = stats.sign_flip_interval(d)
    p = stats.sign_flip_pvalue(d)
    np.testing.assert_array_equal(low > 0, p <= 0.025)
    assert 0.1 < (low > 0).mean() < 0.9  # both outcomes occur


def test_null_is_rejected_at_most_nominally_and_the_interval_covers():
    rng = np.random.default_rng(4)
    # exchangeable arms sharing a strong seed effect, skewed scores (success rates)
    seed_effect = rng.normal(0, 1, size=(3000, 1, 10))
    runs = 1 / (1 + np.exp(-(seed_effect + rng.normal(0, 0.5, size=(3000, 2, 10)))))
    p = stats.sign_flip_pvalue(runs[:, 0] - runs[:, 1])
    assert (p <= 0.05).mean() <= 0.0498 + 3 * math.sqrt(0.05 * 0.95 / 3000)
    # coverage of a symmetric, heavy-tailed difference around a non-zero mean
    d = 0.3 + rng.standard_t(3, size=(3000, 10))
    low, high = stats.sign_flip_interval(d)
    assert ((low <= 0.3) & (0.3 <= high)).mean() >= 0.93


def test_a_planted_paired_effect_is_detected_at_20_seeds_where_the_unpaired_test_fails():
    rng = np.random.default_rng(5)
    studies = 50
    seed_effect = rng.normal(0, 3, size=(studies, 20))  # shared: swamps the effect across seeds
    a = seed_effect + 0.5 + rng.normal(0, 0.35, size=(studies, 20))
    b = seed_effect + rng.normal(0, 0.35, size=(studies, 20))  # sd of a - b: 0.5, the effect
    p = stats.sign_flip_pvalue(a - b)
    assert (p <= 0.05).mean() >= 0.9
    unpaired = np.array([stats.improvement_pvalue(x, y) for x, y in zip(a, b)])
    assert (unpaired <= 0.05).mean() <= 0.3  # Mann-Whitney ignores the pairing
    diff = stats.paired_difference(a[0], b[0])
    assert diff.n == 20 and diff.p_greater < 0.01 and diff.interval.low > 0
    assert diff.interval.contains(0.5) and "Monte Carlo" in diff.method


def test_paired_difference_small_n_nan_and_json():
    three = stats.paired_difference([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    assert three.n == 3 and three.mean == 2.0 and three.p_greater == 1 / 8
    assert not three.interval.available and "cannot reach 95%" in three.interval.reason
    assert three.interval.format() == "n/a"
    out = three.to_json()
    assert out["interval"]["low"] is None and json.dumps(out)
    dropped = stats.paired_difference([1.0, np.nan, 3.0, 4.0], [0.0, 1.0, np.nan, 1.0])
    assert dropped.n == 2 and dropped.dropped == 2 and dropped.mean == 2.0
    none = stats.paired_difference([np.nan], [1.0])
    assert none.n == 0 and math.isnan(none.p_greater) and not none.interval.available
    with pytest.raises(ValueError, match="one value per seed"):
        stats.paired_difference([1.0, 2.0], [1.0])
    # every seed the same difference: the interval is a point, so it is not printed as one
    flat = stats.paired_difference(np.full(8, 0.5), np.zeros(8))
    assert not flat.interval.available and "degenerate" in flat.interval.reason


def test_pair_by_seed_keeps_shared_finite_seeds_in_order():
    a, b, seeds = stats.pair_by_seed([3, 1, 2, 5], [30.0, 10.0, np.nan, 50.0],
                                     [1, 2, 3, 4], [1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(seeds, [1, 3])
    np.testing.assert_array_equal(a, [10.0, 30.0])
    np.testing.assert_array_equal(b, [1.0, 3.0])


def test_format_interval_never_prints_a_point():
    assert stats.format_interval(1.0, 1.0) == "n/a"
    assert stats.format_interval(0.1, 0.25) == "[0.100, 0.250]"
    assert stats.format_interval(math.nan, 1.0) == "n/a"
    assert stats.format_interval(None, 1.0) == "n/a"
    assert stats.format_interval(-math.inf, 1.0) == "n/a"
    assert stats.format_interval(0.1, 0.2, n=3, min_n=5) == "n/a"
    assert stats.format_interval(1234.5, 2345.6) == "[1.23e+03, 2.35e+03]"
    point = stats.Interval.checked(1.0, 1.0)
    assert not point.available and point.format() == "n/a" and "degenerate" in point.reason
    assert stats.Interval.checked(0.0, 2.0).contains(1.0)
    assert not point.contains(1.0) and not point.excludes(5.0)


def test_iqm_estimate_withholds_small_n_intervals():
    small = stats.iqm_estimate([0.1, 0.2, 0.3])
    assert small.n == 3 and small.estimate == pytest.approx(0.2)
    assert not small.interval.available and "at least 5" in small.interval.reason
    rng = np.random.default_rng(6)
    full = stats.iqm_estimate(np.r_[rng.normal(size=12), np.nan])
    assert full.n == 12 and full.interval.available
    assert full.interval.low < full.estimate < full.interval.high
    separated = stats.iqm_estimate(np.ones(6))
    assert not separated.interval.available  # a point, not "[1, 1]"
