"""Comparisons of arm A against arm B on the adult split's score (A:childhood_implications).

A comparison's verdict rests on the final window, paired by seed: seed s of every arm starts
from the same network and is evaluated on the same episodes (common random numbers), so the
per-seed difference a_s - b_s carries the comparison (``stats.compare_paired``: the sign-flip
test). ``comparisons`` judges every comparison of a report together (``stats.judge``, once), so
Holm's correction runs across all of its verdicts. The early window is described (the paired
difference and its direction), not tested; rliable's unpaired IQM, PoI and crossover are
kept beside the verdict as descriptions.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from bootstrap_rl import stats
from bootstrap_rl.report.curves import finite, score_curves, score_metric_on, seed_windows
from bootstrap_rl.report.load import Study
from bootstrap_rl.report.results import (
    Comparison, Crossover, Descriptive, Estimate, Inference, PoI, checked_bounds, to_frame)

MIN_SEEDS_FOR_CLAIMS = stats.MIN_SEEDS  # a verdict needs 10 paired seeds (no signal aside)
COMPARED_KINDS = ("direct", "curriculum", "childhood")
TEST = ("paired sign-flip test of the mean final-window difference A - B on the seeds both "
        "arms share (exact over all 2^n flips up to 16 seeds); TOST at +-margin for equivalence")
CORRECTION = "Holm step-down across every verdict of the report"
RULE_ORDER = (stats.FLOOR, stats.CEILING, stats.INCONCLUSIVE, stats.HOLDS, stats.EQUIVALENT,
              stats.DOES_NOT_HOLD)


def iqm_ci(scores, resamples: int, seed: int) -> Estimate:
    """The IQM of the finite scores with its percentile-bootstrap CI (``stats.iqm_estimate``:
    withheld below 5 seeds); no scores: NaN."""
    return Estimate.from_stats(stats.iqm_estimate(finite(scores), resamples=resamples, seed=seed))


def poi_ci(x, y, resamples: int, seed: int) -> PoI:
    """P(X > Y) over the finite scores with its CI (withheld below 5 seeds in either arm, or
    when a point); either side empty: NaN."""
    x, y = finite(x), finite(y)
    if x.size == 0 or y.size == 0:
        return PoI()
    n = min(x.size, y.size)
    if n < stats.MIN_SEEDS_FOR_BOOTSTRAP:
        return PoI(stats.probability_of_improvement(x, y), *checked_bounds(np.nan, np.nan, n))
    d = stats.poi_with_ci(x, y, resamples=resamples, seed=seed)
    return PoI(d["poi"], *checked_bounds(d["ci_low"], d["ci_high"], n))


def comparison_pairs(study: Study) -> list[tuple[str, str]]:
    """(A, B) pairs: curriculum vs direct; each childhood arm vs direct, vs curriculum, vs its
    method alone (``direct+<method>``: the 2 x 2 of childhood x manager) and vs the
    capacity-matched direct arm that matches it; curriculum vs its order controls (does the
    ladder's order matter?); the shrink-and-perturb control vs curriculum (did childhood cost
    plasticity?); each automatic curriculum (``ued/<kind>``) vs direct, and curriculum vs it
    (does the hand-designed ladder beat an automatic one?).
    """
    direct = study.arms_of_kind("direct")
    curriculum = study.arms_of_kind("curriculum")
    childhood = study.arms_of_kind("childhood")
    present = set(childhood)
    pairs = [(c, d) for c in curriculum for d in direct]
    pairs += [(c, d) for c in childhood for d in direct]
    pairs += [(c, r) for c in childhood for r in curriculum]
    for alone in study.arms_of_kind("direct_managed"):
        method = study.arms[alone].method
        pairs += [(c, alone) for c in childhood if study.arms[c].method == method]
    for wide in study.arms_of_kind("capacity_control"):
        pairs += [(c, wide) for c in study.arms[wide].matches if c in present]
    pairs += [(c, control) for c in curriculum for control in study.arms_of_kind("order_control")]
    pairs += [(control, c) for control in study.arms_of_kind("plasticity_control") for c in curriculum]
    for automatic in study.arms_of_kind("ued"):
        pairs += [(automatic, d) for d in direct] + [(c, automatic) for c in curriculum]
    return pairs


def scale_of(study: Study, arm_a: str, arm_b: str):
    """The ``stats.MetricScale`` of a comparison: ``SUCCESS`` (floor 0, ceiling 1, margin 0.1)
    when both arms' adult score is a success rate, else ``UNBOUNDED`` (a return: no floor,
    ceiling or equivalence margin)."""
    metrics = {score_metric_on(study, arm_a), score_metric_on(study, arm_b)}
    return stats.SUCCESS if metrics == {"success"} else stats.UNBOUNDED


def evidence(study: Study, arm_a: str, arm_b: str):
    """``(final, early)``: the final-window evidence (``stats.compare_paired``, not yet judged)
    and the early-window paired difference, both A - B on the seeds both arms share."""
    seeds_a, early_a, final_a = seed_windows(study, arm_a)
    seeds_b, early_b, final_b = seed_windows(study, arm_b)
    a, b, _ = stats.pair_by_seed(seeds_a, final_a, seeds_b, final_b)
    final = stats.compare_paired(a, b, names=(arm_a, arm_b), scale=scale_of(study, arm_a, arm_b))
    a, b, _ = stats.pair_by_seed(seeds_a, early_a, seeds_b, early_b)
    return final, stats.paired_difference(a, b)


def describe(study: Study, arm_a: str, arm_b: str, *, resamples: int = 2000,
             seed: int = 0) -> Descriptive:
    """rliable's unpaired statistics of A against B: IQM per arm and window, PoI, crossover."""
    _, early_a, final_a = seed_windows(study, arm_a)
    _, early_b, final_b = seed_windows(study, arm_b)
    return Descriptive(
        early_a=iqm_ci(early_a, resamples, seed), early_b=iqm_ci(early_b, resamples, seed),
        early_poi=poi_ci(early_a, early_b, resamples, seed),
        final_a=iqm_ci(final_a, resamples, seed), final_b=iqm_ci(final_b, resamples, seed),
        final_poi=poi_ci(final_a, final_b, resamples, seed),
        crossover=crossover(study, arm_a, arm_b, resamples=resamples, seed=seed))


def _judged(study: Study, pairs, resamples: int, seed: int) -> list[Comparison]:
    found = [evidence(study, a, b) for a, b in pairs]
    verdicts = stats.judge([final for final, _ in found])  # once: Holm across all of them
    return [Comparison(a=a, b=b, verdict=v.verdict, paired=v, early=early,
                       early_direction=stats.early_direction(early),
                       descriptive=describe(study, a, b, resamples=resamples, seed=seed))
            for (a, b), (_, early), v in zip(pairs, found, verdicts)]


def compare(study: Study, arm_a: str, arm_b: str, *, resamples: int = 2000,
            seed: int = 0) -> Comparison:
    """One comparison judged alone (a family of one). The report judges every comparison of
    ``comparison_pairs`` together instead (``comparisons``): judging them one by one gives no
    family-wise control."""
    return _judged(study, [(arm_a, arm_b)], resamples, seed)[0]


def comparisons(study: Study, *, resamples: int = 2000, seed: int = 0) -> list[Comparison]:
    """Every pair of ``comparison_pairs`` with its verdict, Holm-adjusted across all of them."""
    return _judged(study, comparison_pairs(study), resamples, seed)


def inference(study: Study, rows) -> Inference:
    """What the verdicts of ``rows`` (the report's comparisons) rest on."""
    scale = stats.SUCCESS if study.score_metric == "success" else stats.UNBOUNDED
    return Inference(test=TEST, correction=CORRECTION,
                     family_size=rows[0].paired.family_size if rows else 0,
                     alpha=stats.ALPHA, min_seeds=stats.MIN_SEEDS, scale=scale,
                     rule_order=RULE_ORDER)


def crossover(study: Study, arm_a: str, arm_b: str, *, resamples: int = 2000,
              seed: int = 0) -> Crossover:
    """The crossover of A's adult-score IQM curve over B's, on the env steps both evaluated
    (descriptive; its interval is withheld below 5 seeds per arm)."""
    steps_a, curves_a, _ = score_curves(study, arm_a)
    steps_b, curves_b, _ = score_curves(study, arm_b)
    common, ia, ib = np.intersect1d(steps_a, steps_b, return_indices=True)
    if not common.size:
        return Crossover()
    _, s = stats.crossover(curves_a[:, ia], curves_b[:, ib], common, resamples=resamples,
                           seed=seed)
    low, high, reason = checked_bounds(s["ci_low"], s["ci_high"],
                                       min(curves_a.shape[0], curves_b.shape[0]))
    return Crossover(s["point"], s["median"], low, high, s["fraction_crossed"], reason)


def comparison_table(rows):
    """The comparisons (``Comparison`` objects, or their report.json dicts) as a flat pandas
    DataFrame, one row per comparison."""
    return to_frame([Comparison.from_json(r) if isinstance(r, dict) else r for r in rows])
