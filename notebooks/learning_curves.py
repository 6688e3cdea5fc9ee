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
# policy drift. Every number comes from `bootstrap_rl.report` and `bootstrap_rl.stats`, the
# code behind `report.md`, so the notebook and the report agree.
#
# The directory is `$BOOTSTRAP_RL_RESULTS`, else the first command-line argument (when run as a
# script: `python notebooks/learning_curves.py runs/playroom_ladder`), else
# `runs/playroom_ladder`. A `bootstrap-rl train` directory (`metrics.csv`) works too: only its
# training curves are shown. Figures are written next to the results as `notebook_*.png`.
# Set `$BOOTSTRAP_RL_RESAMPLES` to use fewer bootstrap resamples (default 2000).

# %%
import os
import sys
from pathlib import Path

import pandas as pd

from bootstrap_rl import plotting, report

try:
    from IPython.display import Image, display
except ImportError:  # run as a plain script without IPython
    display, Image = print, str


def results_dir() -> Path:
    if os.environ.get("BOOTSTRAP_RL_RESULTS"):
        return Path(os.environ["BOOTSTRAP_RL_RESULTS"])
    args = [a for a in sys.argv[1:] if not a.startswith("-")]  # a kernel passes "-f file"
    return Path(args[0] if args and Path(args[0]).is_dir() else "runs/playroom_ladder")


RESULTS = results_dir()
RESAMPLES = int(os.environ.get("BOOTSTRAP_RL_RESAMPLES", "2000"))
IS_STUDY = (RESULTS / "study.json").exists()
if IS_STUDY:
    study = report.load_study(RESULTS)
else:  # a `train` directory: one arm, training metrics only
    metrics = pd.read_csv(RESULTS / "metrics.csv").assign(arm="train", split="train")
    study = report.Study(path=RESULTS, meta={"total_env_steps": int(metrics.env_steps.max())},
                         table=metrics, arms={"train": {"name": "train", "kind": "direct"}})
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
    if study.seeds < report.MIN_SEEDS_FOR_CLAIMS:
        print(f"Fewer than {report.MIN_SEEDS_FOR_CLAIMS} seeds: a smoke test, not evidence.")
    arms = pd.DataFrame([
        {"arm": r["arm"], "kind": r["kind"], "budget": r["budget_env_steps"],
         "parameters": r["param_count"],
         "early IQM": r["early"]["estimate"], "early low": r["early"]["ci_low"],
         "early high": r["early"]["ci_high"],
         "final IQM": r["final"]["estimate"], "final low": r["final"]["ci_low"],
         "final high": r["final"]["ci_high"]}
        for r in report.arm_summary(study, resamples=RESAMPLES)])
    display(arms)

# %% [markdown]
# ## Adult-task learning curves
#
# IQM over seeds with a 95% bootstrap band against total env steps (childhood steps charged);
# dashed lines mark each arm's stage boundaries.

# %%
if IS_STUDY:
    figure = report.plot_learning_curves(study, RESULTS / "notebook_learning_curves.png")
    if figure:
        display(Image(str(figure)))

# %% [markdown]
# ## Comparisons
#
# One row per comparison of arm A against arm B. PoI is the probability that a random run of A
# beats a random run of B (0.5: no difference). The p-value is a one-sided Mann-Whitney test of
# A > B on final-window scores, Holm-adjusted across the rows.

# %%
if IS_STUDY:
    rows = report.comparisons(study, resamples=RESAMPLES)
    comparison = report.comparison_table(rows)
    display(comparison)

# %% [markdown]
# ## Sunk-cost view and D:prodigy
#
# Childhood and curriculum arms against `direct_adult_steps` at equal adult steps; and the
# Spearman correlation between the population's early and final scores.

# %%
if IS_STUDY:
    sunk = report.sunk_cost(study, resamples=RESAMPLES)
    if sunk:
        display(pd.DataFrame([
            {"arm": r["arm"], "early IQM": r["early_arm"]["estimate"],
             "reference early": r["early_ref"]["estimate"], "early PoI": r["early_poi"]["poi"],
             "final IQM": r["final_arm"]["estimate"], "reference final": r["final_ref"]["estimate"],
             "final PoI": r["final_poi"]["poi"], "final PoI low": r["final_poi"]["ci_low"]}
            for r in sunk]))
        display(Image(str(report.plot_sunk_cost(study, RESULTS / "notebook_sunk_cost.png"))))
    population = report.population(study, resamples=RESAMPLES)
    if population:
        print("prodigy rho:", population["rho"])
        figure = report.plot_prodigy(study, population, RESULTS / "notebook_prodigy.png",
                                     report.arm_summary(study, resamples=RESAMPLES))
        display(Image(str(figure)))

# %% [markdown]
# ## Retention and policy drift

# %%
if IS_STUDY:
    for name, plot in [("retention", report.plot_retention),
                       ("policy_drift", report.plot_policy_drift)]:
        figure = plot(study, RESULTS / f"notebook_{name}.png")
        display(Image(str(figure)) if figure else f"{name}: no data in this study")

# %% [markdown]
# ## Training metrics
#
# Means over each evaluation interval (a study) or per update (a `train` run), IQM over seeds.

# %%
plt = plotting.pyplot()
available = set(study.table.loc[study.table.split == "train", "metric"])
shown = [m for m in ("episode_return", "entropy", "approx_kl", "total_loss") if m in available][:3]
fig, axes = plt.subplots(1, max(1, len(shown)), figsize=(4.3 * max(1, len(shown)), 3.4),
                         squeeze=False)
for ax, metric in zip(axes[0], shown):
    for i, arm in enumerate(a for a in study.arms if study.arms[a].get("kind") != "population"):
        steps, curves, _ = report.arm_curves(study, arm, "train", metric)
        plotting.plot_band(ax, steps, curves, color=f"C{i % 10}", label=arm)
    ax.set(title=metric, xlabel="env steps")
    ax.grid(alpha=0.3)
if axes[0][0].get_legend_handles_labels()[0]:
    axes[0][0].legend(fontsize=7)
fig.tight_layout()
display(Image(str(plotting.save_figure(fig, RESULTS / "notebook_curves.png"))))
