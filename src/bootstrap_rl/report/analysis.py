"""Everything the report shows, computed from a loaded study as typed results.

``analyse(study)`` bundles it into one ``Analysis``. The pieces live in ``curves`` (curves and
window scores out of the table), ``comparisons`` (A against B: the verdicts, judged together),
``summaries`` (arms, sunk cost, D:prodigy, compute), ``retention`` (retention and drift) and
``results`` (the result types); this module re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bootstrap_rl.report.pairwise import (
    COMPARED_KINDS, MIN_SEEDS_FOR_CLAIMS, compare, comparison_pairs, comparison_table, comparisons,
    crossover, inference)
from bootstrap_rl.report.curves import (
    adult_step_curves, arm_curves, score_curves, seed_windows, stage_boundaries, window_scores_of)
from bootstrap_rl.report.load import Study
from bootstrap_rl.report.measurements import (
    Compute, DiagnosticSummary, PlasticitySummary, Retention, RetentionDifference, RetentionSummary)
from bootstrap_rl.report.results import (
    ArmSummary, Comparison, Crossover, Descriptive, Estimate, Inference, PoI, Prodigy, ProdigyConfig, Rho,
    SunkCost, json_safe, to_frame)
from bootstrap_rl.report.diagnostics import diagnostics
from bootstrap_rl.report.plasticity import plasticity
from bootstrap_rl.report.retention import retention
from bootstrap_rl.report.summaries import (
    arm_summary, compute, prodigy, sunk_cost, uncharged_env_steps)

__all__ = [
    "Analysis", "analyse", "COMPARED_KINDS", "MIN_SEEDS_FOR_CLAIMS", "compare", "comparison_pairs",
    "comparison_table", "comparisons", "crossover", "inference", "adult_step_curves", "arm_curves",
    "score_curves", "seed_windows", "stage_boundaries", "window_scores_of", "ArmSummary",
    "Comparison", "Compute", "Crossover", "Descriptive", "Estimate", "Inference", "PlasticitySummary", "PoI",
    "Prodigy", "plasticity", "DiagnosticSummary", "diagnostics",
    "ProdigyConfig", "Retention", "RetentionDifference", "RetentionSummary", "Rho", "SunkCost",
    "json_safe", "to_frame", "arm_summary", "compute", "prodigy", "retention", "sunk_cost",
    "uncharged_env_steps",
]


@dataclass(frozen=True)
class Analysis:
    """A study's report, as data: the study it came from and every result the report shows.

    ``comparisons`` carry one verdict each, judged together (``inference`` says on what);
    ``sunk_cost`` is None without a ``direct_adult_steps`` arm; ``prodigy`` is None without a
    D:prodigy grid; ``retention`` is None when no childhood stage was evaluated;
    ``uncharged_env_steps`` holds only arms that spent env steps outside the budget; ``compute``
    is empty without timing; ``plasticity`` is None without the table's ``network`` rows;
    ``diagnostics`` holds, per arm that ran a manager, what the manager reported it did.
    """

    study: Study = field(repr=False, compare=False)
    arms: tuple[ArmSummary, ...]
    comparisons: tuple[Comparison, ...]
    inference: Inference
    sunk_cost: tuple[SunkCost, ...] | None
    prodigy: Prodigy | None
    retention: Retention | None
    uncharged_env_steps: dict[str, float]
    compute: tuple[Compute, ...]
    plasticity: tuple[PlasticitySummary, ...] | None = None
    diagnostics: dict[str, tuple[DiagnosticSummary, ...]] = field(default_factory=dict)

    @property
    def smoke_test(self) -> bool:
        """Fewer seeds per arm than claims need (``MIN_SEEDS_FOR_CLAIMS``): every verdict is
        then inconclusive or no signal."""
        return self.study.seeds < MIN_SEEDS_FOR_CLAIMS

    def to_json(self) -> dict:
        """report.json's content, figures aside."""
        return {
            "inference": self.inference.to_json(),
            "comparisons": [c.to_json() for c in self.comparisons],
            "arms": [a.to_json() for a in self.arms],
            "sunk_cost": None if self.sunk_cost is None else [s.to_json() for s in self.sunk_cost],
            "uncharged_env_steps": json_safe(self.uncharged_env_steps),
            "compute": [c.to_json() for c in self.compute],
            "prodigy": None if self.prodigy is None else self.prodigy.to_json(),
            "retention": None if self.retention is None else self.retention.to_json(),
            "plasticity": None if self.plasticity is None else [p.to_json() for p in self.plasticity],
            "diagnostics": {arm: [d.to_json() for d in rows] for arm, rows in self.diagnostics.items()},
        }


def analyse(study: Study, *, resamples: int = 2000, seed: int = 0) -> Analysis:
    """Every statistic the report shows, each bootstrap with ``resamples`` and ``seed``."""
    sunk = sunk_cost(study, resamples=resamples, seed=seed)
    rows = tuple(comparisons(study, resamples=resamples, seed=seed))
    return Analysis(
        study=study,
        arms=tuple(arm_summary(study, resamples=resamples, seed=seed)),
        comparisons=rows,
        inference=inference(study, rows),
        sunk_cost=None if sunk is None else tuple(sunk),
        prodigy=prodigy(study, resamples=resamples, seed=seed),
        retention=retention(study, resamples=resamples, seed=seed),
        uncharged_env_steps=uncharged_env_steps(study),
        compute=tuple(compute(study)),
        plasticity=plasticity(study),
        diagnostics=diagnostics(study))
