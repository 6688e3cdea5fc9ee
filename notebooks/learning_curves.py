# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Learning curves and statistics of a study
#
# Reads a study results directory (`study.json` + the tidy `results.csv` written by
# `bootstrap-rl study`) and shows the arms, the adult-task learning curves, the comparisons
# (each with its verdict, from the paired sign-flip test on the shared seeds, Holm-adjusted
# across the report; the early window described; rliable's IQM, probability of improvement and
# crossover as descriptions), the sunk-cost view, D:prodigy's rho with its plateau check, and
# retention and policy drift. It loads the directory with `bootstrap_rl.load_study`; every number comes from
# the study's `analyse`, and every figure from `bootstrap_rl.report.figures`: the code behind
# `report.md`, so the notebook and the report agree. Tables are the typed results as
# DataFrames (`to_frame`).
#
# The directory is `$BOOTSTRAP_RL_RESULTS`, else the first command-line argument (when run as a
# script: `python notebooks/learning_curves.py runs/playroom_ladder`), else
# `runs/playroom_ladder`. A `bootstrap-rl train` directory works too: only its
# training curves are shown. Figures are shown inline and also written next to the results as
# `notebook_*.png`. Set `$BOOTSTRAP_RL_RESAMPLES` to use fewer bootstrap resamples (default 2000).

# %%
# %matplotlib inline
import os
import sys
from pathlib import Path

import bootstrap_rl
from bootstrap_rl.report import MIN_SEEDS_FOR_CLAIMS, figures, to_frame

try:
    from IPython.display import display
except ImportError:  # run as a plain script without IPython
    display = print


def results_dir() -> Path:
    if os.environ.get("BOOTSTRAP_RL_RESULTS"):
        return Path(os.environ["BOOTSTRAP_RL_RESULTS"])
    args = [a for a in sys.argv[1:] if not a.startswith("-")]  # a kernel passes "-f file"
    return Path(args[0] if args and Path(args[0]).is_dir() else "runs/playroom_ladder")


def show(fig, name: str) -> None:
    """Show a figure inline and keep it next to the results as ``notebook_<name>.png``."""
    if fig is None:
        print(f"{name}: no data in this study")
        return
    fig.savefig(RESULTS / f"notebook_{name}.png")
    display(fig)


RESULTS = results_dir()
RESAMPLES = int(os.environ.get("BOOTSTRAP_RL_RESAMPLES", "2000"))
results = bootstrap_rl.load_study(RESULTS)  # a study, or a train run: one arm, training metrics
IS_STUDY, study = results.is_study, results.study
analysis = results.analyse(resamples=RESAMPLES) if IS_STUDY else None
print(f"{RESULTS}: {'study' if IS_STUDY else 'train run'}, {len(study.table):,} rows")
study.table.head()

# %% [markdown]
# ## Arms
#
# Budget, parameter count, and the adult-task score's interquartile mean over seeds in the
# early window (first 20% of the budget) and the final window (last 10%), with percentile
# bootstrap 95% CIs (none below 5 seeds: there they cover far less than 95%).

# %%
if IS_STUDY:
    print(f"curriculum {study.meta.get('curriculum')}, {study.seeds} seeds, "
          f"{study.total_env_steps:,} env steps per arm, score: {study.score_metric} "
          f"on {study.adult_stage}")
    if analysis.smoke_test:
        print(f"Fewer than {MIN_SEEDS_FOR_CLAIMS} seeds: a smoke test, not evidence; every "
              "verdict is inconclusive or no signal.")
    display(to_frame(analysis.arms))

# %% [markdown]
# ## Adult-task learning curves
#
# IQM over seeds against total env steps (childhood steps charged), with a 95% bootstrap band
# where an arm has 5 or more seeds; dashed lines mark each arm's stage boundaries.

# %%
if IS_STUDY:
    show(figures.plot_learning_curves(study), "learning_curves")

# %% [markdown]
# ## Comparisons
#
# One row per comparison of arm A against arm B. The **verdict** rests on the final window,
# paired by seed (seed *s* of every arm shares its initial network and evaluation episodes):
# the sign-flip test of the mean difference A − B on the shared seeds, with Holm's correction
# across every verdict of the report; `equivalent` needs the difference within the margin
# (success: ±0.1). Below 10 paired seeds a verdict is `inconclusive: fewer than 10 seeds`,
# unless both arms sit at the floor or ceiling (`no signal`). The early difference and its
# direction are described, not tested. The IQM and PoI columns are rliable's unpaired
# statistics, descriptive only.

# %%
VERDICT_COLUMNS = ["A", "B", "verdict", "paired seeds", "final A-B", "final A-B low",
                   "final A-B high", "p (A > B)", "Holm p", "early A-B", "early"]
if IS_STUDY:
    print(analysis.inference.test, "|", analysis.inference.correction,
          f"over {analysis.inference.family_size} verdicts")
    comparisons = to_frame(analysis.comparisons)
    display(comparisons[VERDICT_COLUMNS])
    display(comparisons.drop(columns=VERDICT_COLUMNS[2:]))  # descriptive (unpaired)

# %% [markdown]
# ## Sunk-cost view and D:prodigy
#
# Childhood and curriculum arms against `direct_adult_steps` at equal adult steps; and the
# Spearman correlation between the D:prodigy grid's early and final scores (its interval
# resamples configurations, then seeds; none below 5 configurations), with the plateau check:
# if the grid is still rising across the final window, rho correlates early scores with
# budget-limited ones.

# %%
if IS_STUDY and analysis.sunk_cost:
    display(to_frame(analysis.sunk_cost))
    show(figures.plot_sunk_cost(study), "sunk_cost")
if IS_STUDY and analysis.prodigy:
    print("prodigy rho:", analysis.prodigy.rho)
    plateau = analysis.prodigy.plateau
    print(f"plateau check: mean final-window rise {plateau.rise:.3g}, p = {plateau.p_rising:.3g}"
          + (" -- still rising" if plateau.still_rising else ""))
    display(to_frame(analysis.prodigy.configs))
    show(figures.plot_prodigy(study, analysis.prodigy, analysis.arms), "prodigy")

# %% [markdown]
# ## Retention and policy drift
#
# Descriptive, not in the verdict family. Per arm and childhood stage: the final-window IQM of
# the arm's score on that stage's split and of its policy drift (mean KL from the policy at the
# end of that stage), with 95% bootstrap CIs from 5 seeds on; and each curriculum and childhood
# arm against `direct` on the same split, paired by seed (sign-flip CI from 6 seeds on):
# `direct` never trained there, so a positive difference is childhood skill that survived.

# %%
if IS_STUDY and analysis.retention:
    display(to_frame(analysis.retention.summaries))
    display(to_frame(analysis.retention.vs_direct))
if IS_STUDY:
    show(figures.plot_retention(study), "retention")
    show(figures.plot_policy_drift(study), "policy_drift")

# %% [markdown]
# ## Training metrics
#
# Means over each evaluation interval (a study) or per update (a `train` run), IQM over seeds.

# %%
show(figures.plot_training_metrics(study), "curves")
