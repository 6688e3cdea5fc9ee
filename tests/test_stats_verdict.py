"""Verdicts: each of the six on constructed inputs, Holm across a report's comparisons by hand,
and the family-wise rate of ``holds`` under the null (a small Monte Carlo)."""

import json
import math

import numpy as np
import pytest

from bootstrap_rl import stats

N = 10


def base(seed=0, n=N):
    return np.random.default_rng(seed).uniform(0.3, 0.6, size=n)


def test_each_of_the_six_verdicts_on_constructed_inputs():
    b = base()
    rng = np.random.default_rng(1)
    cases = {
        stats.HOLDS: (b + 0.2 + rng.normal(0, 0.02, N), b),
        stats.DOES_NOT_HOLD: (b - 0.2 + rng.normal(0, 0.02, N), b),  # A clearly worse
        stats.EQUIVALENT: (b + rng.normal(0, 0.01, N), b),
        stats.FLOOR: (np.zeros(N), np.r_[np.zeros(N - 1), 0.005]),  # within eps = 0.01
        stats.CEILING: (np.ones(N), np.full(N, 0.995)),
        stats.INCONCLUSIVE: (b[:5] + 0.3, b[:5]),  # a huge effect, 5 seeds
    }
    for expected, (a, bb) in cases.items():
        v = stats.verdict(a, bb, scale=stats.SUCCESS, names=("child", "direct"))
        assert v.verdict == expected, (expected, v.reason)
        assert v.verdict in stats.VERDICTS and v.reason
    assert stats.INCONCLUSIVE == "inconclusive: fewer than 10 seeds"
    assert set(stats.VERDICTS) == {"holds", "does not hold", "equivalent", "no signal: floor",
                                   "no signal: ceiling", "inconclusive: fewer than 10 seeds"}


def test_a_study_where_every_arm_scores_zero_has_no_signal():
    zeros = np.zeros(N)
    assert stats.verdict(zeros, zeros, scale=stats.SUCCESS).verdict == stats.FLOOR
    # with no bounds stated (an unbounded return), the same data is a plain "does not hold"
    assert stats.verdict(zeros, zeros).verdict == stats.DOES_NOT_HOLD
    # one arm off the floor is signal
    assert stats.verdict(np.full(N, 0.3), zeros, scale=stats.SUCCESS).verdict == stats.HOLDS
    # floor and ceiling come before the seed count: no signal needs no seeds to say so
    assert stats.verdict(zeros[:2], zeros[:2], scale=stats.SUCCESS).verdict == stats.FLOOR
    assert stats.verdict(np.ones(2), np.ones(2), scale=stats.SUCCESS).verdict == stats.CEILING
    assert stats.verdict(np.full(2, 0.3), zeros[:2], scale=stats.SUCCESS).verdict == \
        stats.INCONCLUSIVE


def test_does_not_hold_without_a_margin_and_when_too_noisy_for_either_claim():
    b = base(2)
    rng = np.random.default_rng(3)
    noisy = b + rng.normal(0, 0.3, N)  # neither better nor provably within +-0.1
    v = stats.verdict(noisy, b, scale=stats.SUCCESS)
    assert v.verdict == stats.DOES_NOT_HOLD and "not shown better" in v.reason
    same = b + rng.normal(0, 0.01, N)
    assert stats.verdict(same, b).verdict == stats.DOES_NOT_HOLD  # no margin: no equivalence
    assert math.isnan(stats.verdict(same, b).p_equivalent)


def test_superiority_takes_priority_over_equivalence():
    # a small, consistent gain inside the margin: both claims are supported; A > B is reported
    b = base(4)
    a = b + 0.03 + np.random.default_rng(5).normal(0, 0.005, N)
    v = stats.verdict(a, b, scale=stats.SUCCESS)
    assert v.p_greater <= 0.05 and v.p_equivalent <= 0.05
    assert v.verdict == stats.HOLDS and v.interval.high < 0.1


def test_holm_critical_and_adjusted_by_hand():
    # statsmodels' multipletests(method="holm"): ascending 0.005*4, 0.01*3, 0.03*2, 0.04*1,
    # running maximum, back in input order
    p = [0.01, 0.04, 0.03, 0.005]
    np.testing.assert_allclose(stats.holm(p), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(stats.holm([0.02, 0.02, 0.5]), [0.06, 0.06, 0.5])  # ties
    # step-down: 0.005 <= 0.05/4, 0.01 <= 0.05/3, then 0.03 > 0.05/2 stops it
    np.testing.assert_allclose(stats.holm_critical(p), [0.05 / 3, np.nan, np.nan, 0.0125])
    np.testing.assert_allclose(stats.holm_critical([np.nan, 0.001]), [np.nan, 0.05])


def family(strong_a, strong_b, nulls=12, seed=6):
    """One comparison and ``nulls`` comparisons of identical arms (p = 1), for hand checks."""
    rng = np.random.default_rng(seed)
    comps = [stats.compare_paired(strong_a, strong_b, names=("child/1", "direct"))]
    for k in range(nulls):
        b = rng.uniform(0.2, 0.8, N)
        comps.append(stats.compare_paired(b, b, names=(f"child/{k + 2}", "direct")))
    return comps


def test_holm_across_the_family_decides_holds():
    b = base(7)
    d = np.arange(1.0, N + 1) / 100
    d[:3] *= -1  # three small losses: p = (#subsets with sum <= 0) / 1024, between 1/256 and 0.05
    p = stats.sign_flip_pvalue(d)
    assert 0.05 / 13 < p < 0.05
    assert stats.verdict(b + d, b).verdict == stats.HOLDS  # alone
    verdicts = stats.judge(family(b + d, b))
    first = verdicts[0]
    assert len(verdicts) == 13 and first.family_size == 13
    assert first.verdict == stats.DOES_NOT_HOLD  # 13 comparisons: not enough
    assert first.p_adjusted == pytest.approx(13 * p)  # the smallest of 13, times 13
    assert all(v.p_adjusted == 1.0 for v in verdicts[1:])
    # a decisive comparison survives the family: p = 1/1024, adjusted 13/1024
    strong = stats.judge(family(b + 0.1 + np.arange(N) / 1000, b))[0]
    assert strong.verdict == stats.HOLDS
    assert strong.p_greater == 1 / 1024 and strong.p_adjusted == pytest.approx(13 / 1024)
    assert strong.critical == pytest.approx(0.05 / 13)


def test_comparisons_without_seeds_are_not_counted_and_json_is_clean():
    comps = [stats.compare_paired([np.nan] * N, base(), names=("a", "b")),
             stats.compare_paired(base() + 0.2, base(), names=("c", "b"))]
    out = stats.judge(comps)
    assert out[0].verdict == stats.INCONCLUSIVE and out[0].n == 0 and out[0].family_size == 1
    assert out[1].verdict == stats.HOLDS
    text = json.dumps([v.to_json() for v in out])
    assert "NaN" not in text and json.loads(text)[0]["p_adjusted"] is None
    assert out[1].to_json()["interval"]["method"] == "sign-flip inversion"


def test_metric_scale_is_validated():
    with pytest.raises(ValueError, match="eps"):
        stats.MetricScale(eps=-1)
    with pytest.raises(ValueError, match="margin"):
        stats.MetricScale(margin=0)
    with pytest.raises(ValueError, match="floor < ceiling"):
        stats.MetricScale(floor=1.0, ceiling=0.0)


def test_family_wise_holds_rate_under_the_null_is_nominal():
    # 300 synthetic studies, the ladder's 13 comparisons among 8 exchangeable arms, 10 seeds
    # sharing a seed effect; Holm keeps "any holds" near 5% (bound: nominal + 3 standard errors)
    rng = np.random.default_rng(8)
    studies, arms = 300, 8
    pairs = [(1, 0)] + [(k, 0) for k in range(2, 8)] + [(k, 1) for k in range(2, 8)]
    scores = 1 / (1 + np.exp(-(rng.normal(0, 0.5, (studies, 1, N))
                               + rng.normal(0, 0.5, (studies, arms, N)))))
    a = scores[:, [p for p, _ in pairs]].reshape(-1, N)
    b = scores[:, [q for _, q in pairs]].reshape(-1, N)
    comps = stats.compare_paired_batch(a, b, [("x", "y")] * len(a), scale=stats.SUCCESS)
    any_holds = [any(v.verdict == stats.HOLDS for v in stats.judge(comps[13 * s: 13 * s + 13]))
                 for s in range(studies)]
    unadjusted = np.mean([c.difference.p_greater <= 0.05 for c in comps])
    assert np.mean(any_holds) <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / studies)
    assert unadjusted <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / studies)


def test_batch_equals_one_by_one():
    rng = np.random.default_rng(9)
    a, b = rng.uniform(size=(3, N)), rng.uniform(size=(3, N))
    batch = stats.compare_paired_batch(a, b, [("a", "b")] * 3, scale=stats.SUCCESS)
    for i in range(3):
        one = stats.compare_paired(a[i], b[i], names=("a", "b"), scale=stats.SUCCESS)
        assert one.to_json() == batch[i].to_json()


def test_early_direction_is_descriptive():
    worse = stats.paired_difference(np.zeros(N), np.full(N, 0.1))
    assert stats.early_direction(worse) == "worse early"
    assert stats.early_direction(stats.paired_difference(np.ones(3), np.zeros(3))) == "better early"
    assert stats.early_direction(stats.paired_difference([np.nan], [1.0])) == "n/a"
