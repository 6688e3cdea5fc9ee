"""Comparisons of arm A against arm B on the adult split's score (A:childhood_implications)."""

from __future__ import annotations

from dataclasses import asdict, replace

import numpy as np

from bootstrap_rl import stats
from bootstrap_rl.report.curves import finite, score_curves, window_scores_of
from bootstrap_rl.report.load import Study
from bootstrap_rl.report.results import Comparison, Crossover, Estimate, PoI, to_frame

MIN_SEEDS_FOR_CLAIMS = 10
COMPARED_KINDS = ("direct", "curriculum", "childhood")


def iqm_ci(scores, resamples: int, seed: int) -> Estimate:
    """The IQM of the finite scores with its stratified-bootstrap CI; no scores: NaN."""
    scores = finite(scores)
    if scores.size == 0:
        return Estimate()
    return Estimate.from_stats(stats.stratified_bootstrap_ci(scores, resamples=resamples, seed=seed))


def poi_ci(x, y, resamples: int, seed: int) -> PoI:
    """P(X > Y) over the finite scores with its CI; either side empty: NaN."""
    x, y = finite(x), finite(y)
    if x.size == 0 or y.size == 0:
        return PoI()
    return PoI.from_stats(stats.poi_with_ci(x, y, resamples=resamples, seed=seed))


def comparison_pairs(study: Study) -> list[tuple[str, str]]:
    """(A, B) pairs: curriculum vs direct, each childhood arm vs direct and vs curriculum.

    Every arm of kind ``direct`` is a rival (a capacity-matched direct arm is one too).
    """
    direct = study.arms_of_kind("direct")
    curriculum = study.arms_of_kind("curriculum")
    childhood = study.arms_of_kind("childhood")
    pairs = [(c, d) for c in curriculum for d in direct]
    pairs += [(c, d) for c in childhood for d in direct]
    pairs += [(c, r) for c in childhood for r in curriculum]
    return pairs


def compare(study: Study, arm_a: str, arm_b: str, *, resamples: int = 2000, seed: int = 0) -> Comparison:
    """Every statistic of one comparison of arm A against arm B on the adult split's score
    (``pvalue_holm`` is NaN: ``comparisons`` adjusts across a report's comparisons)."""
    a, b = window_scores_of(study, arm_a), window_scores_of(study, arm_b)
    early_poi = poi_ci(a["early"], b["early"], resamples, seed)
    final_poi = poi_ci(a["final"], b["final"], resamples, seed)
    return Comparison(
        a=arm_a, b=arm_b,
        early_a=iqm_ci(a["early"], resamples, seed), early_b=iqm_ci(b["early"], resamples, seed),
        early_poi=early_poi,
        final_a=iqm_ci(a["final"], resamples, seed), final_b=iqm_ci(b["final"], resamples, seed),
        final_poi=final_poi,
        pvalue=stats.improvement_pvalue(finite(a["final"]), finite(b["final"])),
        signature=stats.slow_child_strong_adult(asdict(early_poi), asdict(final_poi)),
        crossover=crossover(study, arm_a, arm_b, resamples=resamples, seed=seed))


def crossover(study: Study, arm_a: str, arm_b: str, *, resamples: int = 2000, seed: int = 0) -> Crossover:
    """The crossover of A's adult-score IQM curve over B's, on the env steps both evaluated."""
    steps_a, curves_a, _ = score_curves(study, arm_a)
    steps_b, curves_b, _ = score_curves(study, arm_b)
    common, ia, ib = np.intersect1d(steps_a, steps_b, return_indices=True)
    if not common.size:
        return Crossover()
    _, summary = stats.crossover(curves_a[:, ia], curves_b[:, ib], common, resamples=resamples, seed=seed)
    return Crossover.from_stats(summary)


def comparisons(study: Study, *, resamples: int = 2000, seed: int = 0) -> list[Comparison]:
    """``compare`` for every pair of ``comparison_pairs``, with Holm-adjusted p-values."""
    rows = [compare(study, a, b, resamples=resamples, seed=seed) for a, b in comparison_pairs(study)]
    adjusted = stats.holm([r.pvalue for r in rows])
    return [replace(row, pvalue_holm=float(p)) for row, p in zip(rows, adjusted)]


def comparison_table(rows):
    """The comparisons (``Comparison`` objects, or their report.json dicts) as a flat pandas
    DataFrame, one row per comparison."""
    return to_frame([Comparison.from_json(r) if isinstance(r, dict) else r for r in rows])
