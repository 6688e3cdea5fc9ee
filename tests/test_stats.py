"""Statistics against rliable's definitions: IQM = 25%-trimmed mean; percentile bootstrap CIs."""

import numpy as np
import pytest

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
