"""Per-arm summaries, the sunk-cost view, D:prodigy, and what the study spent outside its
budget and on compiling."""

from __future__ import annotations

import math

import numpy as np

from bootstrap_rl import stats
from bootstrap_rl.report.pairwise import iqm_ci, poi_ci
from bootstrap_rl.report.curves import (
    adult_step_curves, final_rises, finite, window_scores_of, windows)
from bootstrap_rl.report.load import Study
from bootstrap_rl.report.plasticity import measured_active_parameters
from bootstrap_rl.report.measurements import Compute
from bootstrap_rl.report.results import ArmSummary, Prodigy, ProdigyConfig, Rho, SunkCost

TIMING_KEYS = ("compile_s", "compile_and_first_chunk_s", "train_s", "eval_s", "persistent_cache_hits",
               "devices", "processes", "batch", "padded_batch", "seed_chunk", "peak_device_memory_bytes")


def arm_summary(study: Study, *, resamples: int = 2000, seed: int = 0) -> list[ArmSummary]:
    """Per arm (D:prodigy grid arms aside): kind, budget, parameter count, early and final IQM of
    the adult score with CIs."""
    out = []
    for name, arm in study.arms.items():
        if arm.kind == "grid":
            continue
        scores = window_scores_of(study, name)
        out.append(ArmSummary(
            arm=name, kind=arm.kind, budget_env_steps=arm.budget_env_steps,
            param_count=arm.param_count, learners_per_seed=arm.learners_per_seed,
            stages=tuple(s.name for s in arm.stages),
            early=iqm_ci(scores["early"], resamples, seed), final=iqm_ci(scores["final"], resamples, seed),
            active_param_count=arm.active_param_count,
            measured_active_param_count=measured_active_parameters(study, name), note=arm.note))
    return out


def sunk_cost(study: Study, *, resamples: int = 2000, seed: int = 0) -> list[SunkCost] | None:
    """Curriculum and childhood arms against ``direct_adult_steps`` at equal adult steps.

    Both are scored over the windows of the adult budget A (``direct_adult_steps``'s budget):
    early = adult steps in (0, 0.2 A], final = (0.9 A, ...]. None when the reference arm is
    missing or has no adult score.
    """
    reference = study.arms_of_kind("direct_adult_steps")
    if not reference:
        return None
    ref = reference[0]
    ref_steps, ref_curves = adult_step_curves(study, ref)
    if ref_curves.size == 0:
        return None
    adult_budget = float(study.arms[ref].budget_env_steps or ref_steps.max())
    ref_windows = windows(ref_curves, ref_steps, adult_budget)
    rows = []
    for arm in study.arms_of_kind("curriculum", "childhood"):
        steps, curves = adult_step_curves(study, arm)
        if curves.size == 0:
            continue
        w = windows(curves, steps, adult_budget)
        rows.append(SunkCost(
            arm=arm, reference=ref, adult_budget=adult_budget,
            **{f"{k}_arm": iqm_ci(w[k], resamples, seed) for k in ("early", "final")},
            **{f"{k}_ref": iqm_ci(ref_windows[k], resamples, seed) for k in ("early", "final")},
            **{f"{k}_poi": poi_ci(w[k], ref_windows[k], resamples, seed) for k in ("early", "final")}))
    return rows


def _iqm_or_nan(scores) -> float:
    scores = finite(scores)
    return float(stats.iqm(scores)) if scores.size else math.nan


def _mean_or_nan(x) -> float:
    x = finite(x)
    return float(x.mean()) if x.size else math.nan


def prodigy(study: Study, *, resamples: int = 2000, seed: int = 0) -> Prodigy | None:
    """D:prodigy over the grid arms: per-configuration early and final IQM and final-window
    rise; Spearman's rho between the IQMs with its two-level bootstrap interval (none below 5
    configurations) and permutation p-value (``stats.prodigy_correlation``); and the plateau
    check over configurations (``stats.plateau_check``). None when no grid arm has data."""
    configs = []
    for name in study.arms_of_kind("grid"):
        w = window_scores_of(study, name)
        if w["early"].size == 0:
            continue
        hparams = study.arms[name].hparams
        configs.append(ProdigyConfig(
            arm=name, hparams=hparams if hparams is not None else {},
            early=_iqm_or_nan(w["early"]), final=_iqm_or_nan(w["final"]),
            rise=_mean_or_nan(final_rises(study, name)),
            early_seeds=w["early"], final_seeds=w["final"]))
    if not configs:
        return None
    seeds = max(c.early_seeds.size for c in configs)

    def padded(key):  # configs with fewer seeds are NaN-padded, and prodigy_correlation drops them
        return np.stack([np.pad(getattr(c, key), (0, seeds - getattr(c, key).size),
                                constant_values=np.nan) for c in configs])

    rho = stats.prodigy_correlation(padded("early_seeds"), padded("final_seeds"),
                                    resamples=resamples, seed=seed)
    return Prodigy(configs=tuple(configs), rho=Rho.from_stats(rho),
                   plateau=stats.plateau_check([c.rise for c in configs]))


def uncharged_env_steps(study: Study) -> dict[str, float]:
    """Per arm, the env steps its managers spent outside the budget by the end (mean over
    seeds), for arms where that is not zero (the ``train`` metric ``uncharged_env_steps``)."""
    out = {}
    for arm in study.arms:
        rows = study.rows(arm, "train", "uncharged_env_steps")
        if rows is not None and len(rows):
            value = float(rows.groupby("seed")["value"].max().mean())
            if value > 0:
                out[arm] = value
    return out


def compute(study: Study) -> list[Compute]:
    """Per compiled run with timing (``study.timing``), in the order of the arms that ran it
    (runs no arm names last, by name): its arms and its timing. Empty without timing."""
    arms_of: dict[str, list[str]] = {}
    for name, arm in study.arms.items():
        if arm.run:
            arms_of.setdefault(arm.run, []).append(name)
    order = list(arms_of)
    runs = sorted(study.timing, key=lambda run: (order.index(run) if run in order else len(order), run))
    return [Compute(run=run, arms=tuple(arms_of.get(run, [])),
                    **{key: study.timing[run].get(key) for key in TIMING_KEYS}) for run in runs]
