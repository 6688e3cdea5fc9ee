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
# (early- and final-window IQM, probability of improvement, crossover, the *slow child, strong
# adult* signature, Holm-corrected p-values), the sunk-cost view, D:prodigy's rho, retention and
# policy drift. It loads the directory with `bootstrap_rl.load_study`; every number comes from
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
# early window (first 20% of the budget) and the final window (last 10%), with stratified
# bootstrap 95% CIs.

# %%
if IS_STUDY:
    print(f"curriculum {study.meta.get('curriculum')}, {study.seeds} seeds, "
          f"{study.total_env_steps:,} env steps per arm, score: {study.score_metric} "
          f"on {study.adult_stage}")
    if analysis.smoke_test:
        print(f"Fewer than {MIN_SEEDS_FOR_CLAIMS} seeds: a smoke test, not evidence.")
    display(to_frame(analysis.arms))

# %% [markdown]
# ## Adult-task learning curves
#
# IQM over seeds with a 95% bootstrap band against total env steps (childhood steps charged);
# dashed lines mark each arm's stage boundaries.

# %%
if IS_STUDY:
    show(figures.plot_learning_curves(study), "learning_curves")

# %% [markdown]
# ## Comparisons
#
# One row per comparison of arm A against arm B. PoI is the probability that a random run of A
# beats a random run of B (0.5: no difference). The p-value is a one-sided Mann-Whitney test of
# A > B on final-window scores, Holm-adjusted across the rows.

# %%
if IS_STUDY:
    display(to_frame(analysis.comparisons))

# %% [markdown]
# ## Sunk-cost view and D:prodigy
#
# Childhood and curriculum arms against `direct_adult_steps` at equal adult steps; and the
# Spearman correlation between the D:prodigy grid's early and final scores.

# %%
if IS_STUDY and analysis.sunk_cost:
    display(to_frame(analysis.sunk_cost))
    show(figures.plot_sunk_cost(study), "sunk_cost")
if IS_STUDY and analysis.prodigy:
    print("prodigy rho:", analysis.prodigy.rho)
    display(to_frame(analysis.prodigy.configs))
    show(figures.plot_prodigy(study, analysis.prodigy, analysis.arms), "prodigy")

# %% [markdown]
# ## Retention and policy drift

# %%
if IS_STUDY:
    show(figures.plot_retention(study), "retention")
    show(figures.plot_policy_drift(study), "policy_drift")

# %% [markdown]
# ## Training metrics
#
# Means over each evaluation interval (a study) or per update (a `train` run), IQM over seeds.

# %%
show(figures.plot_training_metrics(study), "curves")
