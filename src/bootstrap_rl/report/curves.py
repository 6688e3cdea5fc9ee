"""Curves out of a study's table: ``[seeds, points]`` arrays on an env-steps axis, and the
per-seed early- and final-window scores the statistics compare."""

from __future__ import annotations

import numpy as np

from bootstrap_rl import stats
from bootstrap_rl.report.load import Study
from bootstrap_rl.schema import ArmRecord


def arm_curves(study: Study, arm: str, split: str, metric: str):
    """``(env_steps[points], curves[seeds, points], seeds[seeds])`` for one arm, split, metric.

    Missing cells are NaN; an arm with no such rows gives empty arrays.
    """
    rows = study.rows(arm, split, metric)
    if rows is None or rows.empty:
        return np.zeros(0), np.zeros((0, 0)), np.zeros(0, dtype=int)
    seeds, seed_index = np.unique(rows["seed"].to_numpy(), return_inverse=True)
    steps, step_index = np.unique(rows["env_steps"].to_numpy(np.float64), return_inverse=True)
    total = np.zeros((seeds.size, steps.size))
    count = np.zeros((seeds.size, steps.size))
    np.add.at(total, (seed_index, step_index), rows["value"].to_numpy(np.float64))
    np.add.at(count, (seed_index, step_index), 1)  # duplicated rows are averaged
    with np.errstate(invalid="ignore"):
        return steps, np.where(count > 0, total / np.maximum(count, 1), np.nan), seeds


def score_metric_on(study: Study, arm: str, split: str | None = None) -> str:
    """The metric ``score_curves`` reads for an arm on a split: the study's score metric, or
    ``return`` when the score metric was not recorded there."""
    split = split or study.adult_stage
    rows = study.rows(arm, split, study.score_metric)
    if (rows is None or rows.empty) and study.score_metric != "return":
        return "return"
    return study.score_metric


def score_curves(study: Study, arm: str, split: str | None = None):
    """The score metric's curves on a split (default: the adult split).

    Falls back to ``return`` when the score metric was not recorded on that split.
    """
    split = split or study.adult_stage
    return arm_curves(study, arm, split, score_metric_on(study, arm, split))


def adult_step_curves(study: Study, arm: str):
    """``(adult_steps, curves)``: the adult-split score from the arm's adult-stage start on.

    Adult steps are env steps spent on the adult task; for direct arms they are all env steps.
    """
    steps, curves, _ = score_curves(study, arm)
    record = study.arms.get(arm)
    stage = next((s for s in record.stages if s.name == study.adult_stage), None) if record else None
    start = float(stage.start_env_steps) if stage else 0.0
    keep = steps >= start
    return steps[keep] - start, curves[:, keep] if curves.size else curves


def stage_boundaries(arm: ArmRecord) -> list[float]:
    """Env steps at which an arm moved from one stage to the next."""
    return [float(s.end_env_steps) for s in arm.stages[:-1]]


def finite(x) -> np.ndarray:
    """``x`` flattened, NaNs dropped."""
    x = np.asarray(x, dtype=np.float64).ravel()
    return x[~np.isnan(x)]


def windows(curves, steps, budget: float) -> dict[str, np.ndarray]:
    """``{"early": [seeds], "final": [seeds]}``: per-seed window scores over a budget."""
    return {"early": stats.early_window(curves, steps, budget),
            "final": stats.final_window(curves, env_steps=steps, total_env_steps=budget)}


def arm_budget(study: Study, arm: str) -> float:
    """The env-step budget an arm's windows are fractions of: the study's total for every arm
    except ``direct_adult_steps``, which spends the adult steps only."""
    record = study.arms.get(arm)
    budget = record.budget_env_steps if record else None
    return float(budget or study.total_env_steps)


def seed_windows(study: Study, arm: str, split: str | None = None, metric: str | None = None):
    """``(seeds, early, final)``: an arm's early- and final-window scores per seed on a split
    (default: the adult split), with the seed ids that pair them with another arm's
    (``stats.pair_by_seed``). ``metric`` defaults to the score metric (``score_curves``); a
    seed without an evaluation in a window scores NaN there. No rows: three empty arrays."""
    if metric is None:
        steps, curves, seeds = score_curves(study, arm, split)
    else:
        steps, curves, seeds = arm_curves(study, arm, split or study.adult_stage, metric)
    if curves.size == 0:
        return np.zeros(0, dtype=int), np.zeros(0), np.zeros(0)
    w = windows(curves, steps, arm_budget(study, arm))
    return seeds, w["early"], w["final"]


def window_scores_of(study: Study, arm: str, split: str | None = None) -> dict[str, np.ndarray]:
    """``{"early": [seeds], "final": [seeds]}``: an arm's window scores on a split (NaN: none);
    ``seed_windows`` gives the seed ids too."""
    _, early, final = seed_windows(study, arm, split)
    return {"early": early, "final": final}


def final_rises(study: Study, arm: str, split: str | None = None) -> np.ndarray:
    """Per seed, how much the score rose across the final window (``stats.final_rise``)."""
    steps, curves, _ = score_curves(study, arm, split)
    if curves.size == 0:
        return np.zeros(0)
    return stats.final_rise(curves, steps, arm_budget(study, arm))
