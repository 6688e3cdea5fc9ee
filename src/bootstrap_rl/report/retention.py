"""Retention and drift (L:drift / A:domain_shift), as the report shows them: descriptive, and
not in the verdict family.

Per arm and childhood stage, the final-window IQM of the arm's score on that stage's split and
of its policy drift (``policy_kl``: mean KL from the policy at the end of that stage) where
recorded (``stats.stage_summary``). For each childhood arm and the curriculum, its final-window
score on each childhood split against ``direct``'s there, paired by seed
(``stats.retention_vs_baseline``): direct never trained on those splits, so a positive
difference is childhood skill that survived the adult stage.
"""

from __future__ import annotations

from bootstrap_rl import stats
from bootstrap_rl.report.curves import seed_windows
from bootstrap_rl.report.load import Study
from bootstrap_rl.report.measurements import Retention, RetentionDifference, RetentionSummary
from bootstrap_rl.report.results import Estimate

DRIFT_METRIC = "policy_kl"


def retention_splits(study: Study) -> list[str]:
    """The childhood stages evaluated in the table, in stage order."""
    if not len(study.table):
        return []
    evaluated = set(study.table["split"])
    return [s for s in study.childhood_stages if s in evaluated]


def reference_arm(study: Study) -> str | None:
    """The ``direct`` arm retention is measured against: the one named ``direct``, else the
    first arm of kind ``direct``; None without one."""
    direct = study.arms_of_kind("direct")
    return "direct" if "direct" in direct else (direct[0] if direct else None)


def _summary(study: Study, arm: str, split: str, resamples: int, seed: int):
    _, _, final = seed_windows(study, arm, split)
    if final.size == 0:
        return None
    score = stats.stage_summary({split: final}, resamples=resamples, seed=seed)[split]
    _, _, kl = seed_windows(study, arm, split, metric=DRIFT_METRIC)
    drift = (Estimate.from_stats(stats.stage_summary({split: kl}, resamples=resamples,
                                                     seed=seed)[split]) if kl.size else None)
    return RetentionSummary(arm=arm, split=split, score=Estimate.from_stats(score),
                            policy_kl=drift)


def _versus(study: Study, arm: str, reference: str, split: str) -> RetentionDifference | None:
    seeds_a, _, final_a = seed_windows(study, arm, split)
    seeds_r, _, final_r = seed_windows(study, reference, split)
    if final_a.size == 0 or final_r.size == 0:
        return None
    a, r, _ = stats.pair_by_seed(seeds_a, final_a, seeds_r, final_r)
    found = stats.retention_vs_baseline(a, r, arm=arm, split=split, baseline=reference)
    return RetentionDifference(arm=found.arm, reference=found.reference, split=found.split,
                               difference=found.difference)


def retention(study: Study, *, resamples: int = 2000, seed: int = 0) -> Retention | None:
    """Retention and drift per arm (D:prodigy grid arms aside) and childhood split, and each
    curriculum and childhood arm against ``direct`` on those splits. None when no childhood
    split was evaluated."""
    splits = retention_splits(study)
    if not splits:
        return None
    arms = [name for name, arm in study.arms.items() if arm.kind != "grid"]
    summaries = [_summary(study, arm, split, resamples, seed) for arm in arms for split in splits]
    reference = reference_arm(study)
    versus = [] if reference is None else [
        _versus(study, arm, reference, split)
        for arm in study.arms_of_kind("curriculum", "childhood") for split in splits]
    return Retention(summaries=tuple(s for s in summaries if s is not None),
                     vs_direct=tuple(v for v in versus if v is not None))
