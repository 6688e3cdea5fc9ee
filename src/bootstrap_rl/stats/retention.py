"""Retention and drift (L:drift / A:domain_shift): per-stage summaries and paired differences.

Retention of a childhood arm on an earlier stage S is read on S's evaluation split. Two paired
differences answer two questions, both on the shared seeds:

- ``retention_vs_baseline``: the arm's final-window score on S minus ``direct``'s on S. Direct
  never trained on S, so its score there is the baseline of what the adult task alone gives;
  a positive difference is skill from the childhood that survived.
- ``forgetting``: within one arm, its score on S at the end of stage S minus its final-window
  score on S (positive: forgotten).

Both are descriptive (not part of the verdict family). Drift (``policy_kl`` per split) is
summarised per arm and stage by ``stage_summary``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from bootstrap_rl.stats.intervals import Estimate, _JSON, iqm_estimate
from bootstrap_rl.stats.paired import MC_FLIPS, PairedDifference, paired_difference


def stage_summary(scores_by_stage: Mapping[str, object], *, confidence: float = 0.95,
                  resamples: int = 2000, seed: int = 0) -> dict[str, Estimate]:
    """Per stage (or split), the IQM over seeds with its percentile-bootstrap interval
    (``iqm_estimate``: no interval below 5 seeds). ``scores_by_stage[stage]`` holds one value
    per seed (a window score, a retention score, or a drift KL)."""
    return {stage: iqm_estimate(scores, confidence=confidence, resamples=resamples, seed=seed)
            for stage, scores in scores_by_stage.items()}


@dataclass(frozen=True)
class Retention(_JSON):
    """One arm on one earlier stage's split: the paired difference to a reference."""

    arm: str
    reference: str
    split: str
    difference: PairedDifference


def retention_vs_baseline(arm_scores, baseline_scores, *, arm: str, split: str,
                          baseline: str = "direct", confidence: float = 0.95,
                          resamples: int = MC_FLIPS, seed: int = 0) -> Retention:
    """Arm minus ``baseline`` (default ``direct``) on ``split``, paired by seed: ``arm_scores``
    and ``baseline_scores`` are final-window scores on that split, aligned by seed
    (``pair_by_seed``). The interval is the sign-flip inversion (``paired_difference``)."""
    diff = paired_difference(arm_scores, baseline_scores, confidence=confidence,
                             resamples=resamples, seed=seed)
    return Retention(arm, baseline, split, diff)


def forgetting(at_stage_end, at_final, *, arm: str, split: str, confidence: float = 0.95,
               resamples: int = MC_FLIPS, seed: int = 0) -> Retention:
    """Within one arm: its score on ``split`` when that stage ended minus its final-window
    score there, per seed (positive: forgotten). ``reference`` reads ``"end of <split>"``."""
    diff = paired_difference(at_stage_end, at_final, confidence=confidence,
                             resamples=resamples, seed=seed)
    return Retention(arm, f"end of {split}", split, diff)
