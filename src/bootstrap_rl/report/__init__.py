"""The study report: data, then views.

- ``load``: ``load_study(results_dir) -> Study`` reads ``study.json``, ``results.csv`` and
  ``timing/``.
- ``analysis``: ``analyse(study) -> Analysis``, every statistic the report shows as typed
  results (``ArmSummary``, ``Comparison`` with its ``verdict``, ``Inference``, ``SunkCost``,
  ``Prodigy``, ``Retention``, ``Compute``), each with ``to_json()`` (its report.json form) and
  ``as_row()``; ``to_frame(results)`` makes a DataFrame. The pieces live in ``curves``,
  ``pairwise`` (the verdicts: paired by seed, judged together), ``summaries``,
  ``retention``, ``results`` (the statistics) and ``measurements`` (retention, plasticity,
  diagnostics, compute).
- ``figures``: ``plot_*`` functions draw on given Axes (or a new figure) and return the figure;
  ``save_figures`` writes the PNGs.
- ``markdown``: ``render(analysis, figures)`` is report.md's text (``sections``: its
  comparisons and retention sections; ``fmt``: numbers and intervals).

``write_report(results_dir)`` does all of it: ``report.md``, ``report.json`` and PNG figures
next to the results. Names are imported on first use, so importing this package loads neither
pandas nor matplotlib, and the package imports none of its modules at import time (they import
each other).
"""

from __future__ import annotations

from pathlib import Path

from bootstrap_rl._lazy import lazy_exports

lazy_exports(globals(), {
    "load": ("Study", "load_study", "load_train_run"),
    "analysis": ("Analysis", "analyse", "MIN_SEEDS_FOR_CLAIMS", "COMPARED_KINDS", "compare",
                 "comparisons", "comparison_pairs", "comparison_table", "crossover", "inference",
                 "arm_summary", "sunk_cost", "prodigy", "uncharged_env_steps", "compute",
                 "arm_curves", "score_curves", "seed_windows", "adult_step_curves",
                 "stage_boundaries", "window_scores_of", "ArmSummary", "Comparison", "Compute",
                 "Crossover", "Descriptive", "Estimate", "Inference", "PoI", "Prodigy",
                 "ProdigyConfig", "Retention", "RetentionDifference", "RetentionSummary", "Rho",
                 "SunkCost", "to_frame"),
    "figures": ("plot_learning_curves", "plot_sunk_cost", "plot_retention", "plot_policy_drift",
                "plot_prodigy", "plot_training_metrics", "save_figures", "new_axes"),
    "curves": (), "pairwise": (), "summaries": (), "retention": (), "results": (), "measurements": (),
    "markdown": (),
    "sections": (), "fmt": (), "terminal": (),
})
__all__ = ["write_report", *__all__]


def write_report(results_dir: str | Path, *, resamples: int = 2000, seed: int = 0) -> Path:
    """Write ``report.md``, ``report.json`` and the figures into a study results directory.

    Returns the path of ``report.md``. Figures whose data are absent (no childhood stages, no
    policy drift, no D:prodigy grid) are left out, and the report says so.
    """
    from bootstrap_rl.report import markdown
    from bootstrap_rl.report.analysis import analyse
    from bootstrap_rl.report.figures import save_figures
    from bootstrap_rl.report.load import load_study
    from bootstrap_rl.results import write_json, write_text

    study = load_study(results_dir)
    analysis = analyse(study, resamples=resamples, seed=seed)
    figures = save_figures(study, analysis, study.path)
    names = {key: (path.name if path else None) for key, path in figures.items()}
    write_json(study.path / "report.json", {**analysis.to_json(), "figures": names})
    return write_text(study.path / "report.md", markdown.render(analysis, figures))
