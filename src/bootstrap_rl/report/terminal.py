"""The few lines a study ends with in the terminal: each arm's final-window IQM with its
interval and its verdict against ``direct`` (and against ``curriculum``, where the report
compares with it), then where the report is.

It reads the typed results (:class:`~bootstrap_rl.report.results.ArmSummary`,
:class:`~bootstrap_rl.report.results.Comparison`): from an :class:`~bootstrap_rl.report.Analysis`
(:func:`summary`) or from a results directory's ``report.json`` (:func:`summary_of`), so that
the command line prints it without computing the statistics a second time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from bootstrap_rl.report import fmt
from bootstrap_rl.report.pairwise import MIN_SEEDS_FOR_CLAIMS
from bootstrap_rl.report.results import ArmSummary, Comparison, Estimate
from bootstrap_rl.stats.windows import FINAL_FRACTION

REFERENCES = ("direct", "curriculum")  # the arms the columns compare against, when compared


def summary_table(arms: Sequence[ArmSummary], comparisons: Sequence[Comparison], *, metric: str, adult: str,
                  seeds: int, report: str | Path | None = None) -> str:
    """The summary's text: a header, one row per arm, a smoke-test note below
    ``MIN_SEEDS_FOR_CLAIMS`` seeds, and the report's path (if given)."""
    verdicts = {(c.a, c.b): c.verdict for c in comparisons}
    references = [ref for ref in REFERENCES if any(b == ref for _, b in verdicts)]
    header = ["arm", "final IQM [95% CI]", *(f"vs {ref}" for ref in references)]
    rows = [header]
    for arm in arms:
        final = arm.final
        cells = [arm.arm, fmt.with_interval(final.estimate, final.ci_low, final.ci_high, n=final.runs)]
        for ref in references:
            cells.append("(reference)" if arm.arm == ref else verdicts.get((arm.arm, ref), "-"))
        rows.append(cells)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [f"{metric} on the adult task ({adult}), final window (last {FINAL_FRACTION:.0%} of env steps), "
             f"IQM over {seeds} seed{'s' if seeds != 1 else ''}:"]
    for i, row in enumerate(rows):
        lines.append("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        if i == 0:
            lines.append("  " + "  ".join("-" * width for width in widths))
    if seeds < MIN_SEEDS_FOR_CLAIMS:
        lines.append(f"smoke test: {seeds} seed(s) per arm; a verdict needs {MIN_SEEDS_FOR_CLAIMS} paired seeds")
    if report is not None:
        lines.append(f"report: {report}")
    return "\n".join(lines)


def summary(analysis, report: str | Path | None = None) -> str:
    """:func:`summary_table` of an :class:`~bootstrap_rl.report.Analysis`."""
    study = analysis.study
    return summary_table(analysis.arms, analysis.comparisons, metric=study.score_metric, adult=study.adult_stage,
                         seeds=study.seeds, report=report)


def summary_of(results_dir: str | Path) -> str:
    """:func:`summary_table` of a results directory from its ``study.json`` and ``report.json``
    (written by ``write_report``), naming its ``report.md``."""
    path = Path(results_dir)
    meta = json.loads((path / "study.json").read_text())
    saved = json.loads((path / "report.json").read_text())
    arms = [_arm(record) for record in saved["arms"]]
    comparisons = [Comparison.from_json(record) for record in saved["comparisons"]]
    adult = meta.get("adult_stage") or (meta.get("stages") or ["adult"])[-1]
    return summary_table(arms, comparisons, metric=meta.get("score_metric", "return"), adult=adult,
                         seeds=int(meta["seeds"]), report=path / "report.md")


def _arm(record: dict) -> ArmSummary:
    """An arm's summary from report.json: the fields the table shows (nulls read as NaN)."""
    final = record["final"]
    numbers = {name: float("nan") if final.get(name) is None else final[name]
               for name in ("estimate", "ci_low", "ci_high")}
    return ArmSummary(arm=record["arm"], kind=record["kind"], budget_env_steps=record.get("budget_env_steps"),
                      param_count=record.get("param_count"), learners_per_seed=record.get("learners_per_seed", 1),
                      stages=tuple(record.get("stages", ())), early=Estimate(),
                      final=Estimate(**numbers, runs=final.get("runs", 0), reason=final.get("reason")))
