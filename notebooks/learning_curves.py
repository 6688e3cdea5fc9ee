# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Learning curves from a `bootstrap-rl train` results directory
#
# Reads the tidy `metrics.csv` (columns `seed, env_steps, metric, value`) and plots the IQM over
# seeds with a 95% bootstrap band, for any metric. Open with jupytext, or run as a script:
# `python notebooks/learning_curves.py runs/cartpole`.

# %%
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from bootstrap_rl import stats

RESULTS = Path(sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else "runs/cartpole")
table = pd.read_csv(RESULTS / "metrics.csv")
table.head()

# %%
def curve(metric: str):
    """[seeds, env_steps] for one metric; missing points (no finished episode) stay NaN."""
    wide = table[table.metric == metric].pivot(index="seed", columns="env_steps", values="value")
    return wide.columns.to_numpy(), wide.to_numpy()


# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 3.5))
for ax, metric in zip(axes, ["episode_return", "entropy", "approx_kl"]):
    steps, values = curve(metric)
    keep = ~pd.isna(values).any(axis=0)
    centre, low, high = stats.iqm_band(values[:, keep])
    ax.plot(steps[keep], centre)
    ax.fill_between(steps[keep], low, high, alpha=0.3)
    ax.set(title=metric, xlabel="env steps")
fig.tight_layout()
fig.savefig(RESULTS / "notebook_curves.png")
