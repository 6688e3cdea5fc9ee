"""The report's figures. Each ``plot_*`` draws on the Axes it is given (or on a new figure's)
and returns the figure, or None when the study has nothing to draw; none writes a file.
``save_figures`` writes the report's PNGs.

Figures are built on ``matplotlib.figure.Figure``, not pyplot: no backend is chosen and no
figure is registered with pyplot, so a notebook shows one with ``display(fig)`` and a script
saves it headless.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from bootstrap_rl import plotting, stats
from bootstrap_rl.report import fmt
from bootstrap_rl.report.analysis import Analysis
from bootstrap_rl.report.pairwise import COMPARED_KINDS
from bootstrap_rl.report.curves import adult_step_curves, arm_curves, score_curves, stage_boundaries
from bootstrap_rl.report.load import Study
from bootstrap_rl.report.results import ArmSummary, Prodigy
from bootstrap_rl.report.retention import retention_splits
from bootstrap_rl.schema import NETWORK_SPLIT, TRAIN_SPLIT

WIDE = {"figsize": (7.5, 4.2), "dpi": 120}  # one panel
PANEL = (4.2, 3.6)  # per panel of a row of panels
PANEL_DPI = 110


def new_axes(panels: int = 1, *, figsize=None, dpi=PANEL_DPI, **subplots) -> list:
    """A new figure's row of ``panels`` Axes (``figsize`` default: ``PANEL`` per panel)."""
    from matplotlib.figure import Figure

    figsize = figsize or (PANEL[0] * panels, PANEL[1])
    return list(Figure(figsize=figsize, dpi=dpi).subplots(1, panels, squeeze=False, **subplots)[0])


def _panels(axes, count: int, what: str, **new) -> tuple[list, bool]:
    """The given Axes (one per panel, checked), or a new figure's; and whether they are new."""
    if axes is None:
        return new_axes(count, **new), True
    axes = list(np.ravel(axes))
    if len(axes) != count:
        raise ValueError(f"{what} draws {count} panel(s), got {len(axes)} Axes")
    return axes, False


def _done(fig, created: bool):
    if created:
        fig.tight_layout()
    return fig


def colors(study: Study) -> dict[str, str]:
    """One colour per arm (D:prodigy grid arms aside), the same in every figure."""
    names = [n for n, a in study.arms.items() if a.kind != "grid"]
    return {name: f"C{i % 10}" for i, name in enumerate(names)}


def _finish(ax, xlabel="total env steps", ylabel=None, legend=True):
    ax.set_xlabel(xlabel)
    if "env steps" in xlabel:  # 1.2M rather than 1200000: readable in small panels
        from matplotlib.ticker import EngFormatter

        ax.xaxis.set_major_formatter(EngFormatter(sep=""))
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="best")


def _band(ax, steps, curves, **line) -> bool:
    """``plotting.plot_band``, with the 95% bootstrap band only from 5 seeds on (below, the
    percentile bootstrap under-covers badly: 52% at 2 seeds); the IQM line either way."""
    band = curves.ndim == 2 and curves.shape[0] >= stats.MIN_SEEDS_FOR_BOOTSTRAP
    return plotting.plot_band(ax, steps, curves, band=band, **line)


BAND_NOTE = "95% CI band with 5+ seeds"


def _boundaries(ax, study: Study, name: str, color: str, **line):
    if study.arms[name].kind != "direct":
        for x in stage_boundaries(study.arms[name]):
            ax.axvline(x, color=color, ls="--", **line)


def plot_learning_curves(study: Study, ax=None):
    """Adult-split score per arm: IQM with a 95% band; dashed lines at stage boundaries."""
    (ax,), created = _panels(ax, 1, "plot_learning_curves", **WIDE)
    drawn = False
    for name, color in colors(study).items():
        steps, curves, _ = score_curves(study, name)
        if _band(ax, steps, curves, color=color, label=name):
            drawn = True
            _boundaries(ax, study, name, color, lw=0.8, alpha=0.7)
    if not drawn:
        return None
    ax.set_title(f"{study.adult_stage} ({study.score_metric}), IQM over seeds ({BAND_NOTE}); "
                 "dashed: stage boundaries", fontsize=9)
    _finish(ax, ylabel=study.score_metric)
    return _done(ax.figure, created)


def plot_sunk_cost(study: Study, ax=None):
    """Adult-split score against env steps spent on the adult task only."""
    (ax,), created = _panels(ax, 1, "plot_sunk_cost", **WIDE)
    drawn = False
    for name, color in colors(study).items():
        steps, curves = adult_step_curves(study, name)
        drawn |= _band(ax, steps, curves, color=color, label=name)
    if not drawn:
        return None
    ax.set_title("sunk-cost view: adult-task score at equal adult steps", fontsize=9)
    _finish(ax, xlabel="env steps on the adult task", ylabel=study.score_metric)
    return _done(ax.figure, created)


def plot_retention(study: Study, axes: Sequence | None = None):
    """One panel per childhood stage (``retention_splits``): each arm's score on that stage's
    tasks over time."""
    splits = retention_splits(study)
    if not splits:
        return None
    axes, created = _panels(axes, len(splits), "plot_retention")
    for ax, split in zip(axes, splits):
        for name, color in colors(study).items():
            steps, curves, _ = score_curves(study, name, split)
            _band(ax, steps, curves, color=color, label=name)
            if curves.size:
                _boundaries(ax, study, name, color, lw=0.6, alpha=0.5)
        ax.set_title(f"retention: {split}", fontsize=9)
        _finish(ax, ylabel=study.score_metric, legend=ax is axes[0])
    return _done(axes[0].figure, created)


def _policy_kl(study: Study):
    t = study.table
    return t[t["metric"] == "policy_kl"]


def drift_arms(study: Study) -> list[str]:
    """The arms with policy drift in the table: one drift panel each."""
    arms = set(_policy_kl(study)["arm"])
    return [a for a in study.arms if a in arms]


def _drift_splits(study: Study, kl, arm: str) -> list[str]:
    """The splits an arm's drift was measured on: stages in order, then any others by name."""
    measured = set(kl[kl["arm"] == arm]["split"])
    splits = [s for s in study.meta.get("stages", []) if s in measured]
    return splits + sorted(measured - set(splits))


def plot_policy_drift(study: Study, axes: Sequence | None = None):
    """One panel per arm (``drift_arms``): KL from the policy at the end of each earlier stage,
    over time."""
    arms = drift_arms(study)
    if not arms:
        return None
    axes, created = _panels(axes, len(arms), "plot_policy_drift", sharey=True)
    kl = _policy_kl(study)
    for ax, arm in zip(axes, arms):
        for i, split in enumerate(_drift_splits(study, kl, arm)):
            steps, curves, _ = arm_curves(study, arm, split, "policy_kl")
            _band(ax, steps, curves, color=f"C{i % 10}", label=f"since end of {split}")
        ax.set_title(f"policy drift: {arm}", fontsize=9)
        _finish(ax, ylabel="mean KL(end of stage || now)" if ax is axes[0] else None)
    return _done(axes[0].figure, created)


def plot_prodigy(study: Study, prodigy: Prodigy, arms: Sequence[ArmSummary] = (), axes=None):
    """Two panels: the grid's curves, and each configuration's early vs final IQM, with
    the compared arms of ``arms`` as stars."""
    (left, right), created = _panels(axes, 2, "plot_prodigy", figsize=(11, 4.2))
    _prodigy_curves(left, study, prodigy)
    _prodigy_scatter(right, study, prodigy, arms)
    return _done(left.figure, created)


def _prodigy_curves(ax, study: Study, prodigy: Prodigy):
    for i, config in enumerate(prodigy.configs):
        steps, curves, _ = score_curves(study, config.arm)
        plotting.plot_band(ax, steps, curves, color=f"C{i % 10}", band=False,
                           label=fmt.config_name(config.arm))
    ax.set_title("D:prodigy grid: adult score, IQM over seeds", fontsize=9)
    _finish(ax, ylabel=study.score_metric, legend=len(prodigy.configs) <= 12)


def _prodigy_scatter(ax, study: Study, prodigy: Prodigy, arms: Sequence[ArmSummary]):
    configs = prodigy.configs
    ax.scatter([c.early for c in configs], [c.final for c in configs], color="0.3",
               label="grid configuration")
    for c in configs:
        ax.annotate(fmt.config_name(c.arm), (c.early, c.final), fontsize=5, alpha=0.7)
    palette = colors(study)
    for arm in arms:
        if arm.kind in COMPARED_KINDS:
            ax.scatter([arm.early.estimate], [arm.final.estimate], marker="*", s=120,
                       color=palette.get(arm.arm), label=arm.arm)
    rho = prodigy.rho
    ci = fmt.interval(rho.ci_low, rho.ci_high)
    ci = (f"95% CI {ci} (configurations, then seeds, resampled)" if ci != "n/a"
          else f"no CI ({rho.reason or 'n/a'})")
    ax.set_title(f"D:prodigy: Spearman rho = {fmt.num(rho.rho)} over {rho.n_configs} configs, "
                 f"{ci};\none-sided permutation p = {fmt.num(rho.p_value)}", fontsize=8)
    _finish(ax, xlabel=f"early-window IQM ({study.score_metric})",
            ylabel=f"final-window IQM ({study.score_metric})")


TRAINING_METRICS = ("episode_return", "entropy", "approx_kl", "total_loss")


def plot_training_metrics(study: Study, metrics: Sequence[str] | None = None, axes=None):
    """One panel per training metric (default: the first three of ``TRAINING_METRICS`` in the
    table): each arm's mean over evaluation intervals (a study) or updates (a train run)."""
    available = set(study.table.loc[study.table["split"] == TRAIN_SPLIT, "metric"])
    metrics = list(metrics) if metrics is not None else [m for m in TRAINING_METRICS if m in available][:3]
    if not metrics:
        return None
    axes, created = _panels(axes, len(metrics), "plot_training_metrics",
                            figsize=(4.3 * len(metrics), 3.4), dpi=100)
    arms = [a for a, arm in study.arms.items() if arm.kind != "grid"]
    for ax, metric in zip(axes, metrics):
        for i, arm in enumerate(arms):
            steps, curves, _ = arm_curves(study, arm, TRAIN_SPLIT, metric)
            _band(ax, steps, curves, color=f"C{i % 10}", label=arm)
        ax.set(title=metric, xlabel="env steps")
        ax.grid(alpha=0.3)
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(fontsize=7)
    return _done(axes[0].figure, created)


def plot_plasticity(study: Study, axes: Sequence | None = None):
    """One panel per plasticity metric (``bootstrap_rl.plasticity``): each arm's mean over seeds
    against total env steps. None without the table's ``network`` rows."""
    from bootstrap_rl.report.plasticity import PLASTICITY_METRICS

    arms = [a for a, arm in study.arms.items() if arm.kind != "grid"]
    if not any(study.rows(a, NETWORK_SPLIT, PLASTICITY_METRICS[0]) is not None for a in arms):
        return None
    axes, created = _panels(axes, len(PLASTICITY_METRICS), "plot_plasticity",
                            figsize=(4.3 * len(PLASTICITY_METRICS), 3.4), dpi=100)
    palette = colors(study)
    for ax, metric in zip(axes, PLASTICITY_METRICS):
        for i, arm in enumerate(arms):
            steps, curves, _ = arm_curves(study, arm, NETWORK_SPLIT, metric)
            if curves.size:
                ax.plot(steps, np.nanmean(curves, axis=0), color=palette.get(arm, f"C{i % 10}"), label=arm, lw=1.2)
        ax.set(title=metric.replace("_", " "), xlabel="total env steps")
        ax.grid(alpha=0.3)
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(fontsize=6)
    return _done(axes[0].figure, created)


def report_figures(study: Study, analysis: Analysis) -> dict:
    """The report's figures by name (None: no data), in the report's order."""
    return {
        "learning_curves": plot_learning_curves(study),
        "sunk_cost": plot_sunk_cost(study) if analysis.sunk_cost else None,
        "retention": plot_retention(study),
        "policy_drift": plot_policy_drift(study),
        "prodigy": plot_prodigy(study, analysis.prodigy, analysis.arms) if analysis.prodigy else None,
        "plasticity": plot_plasticity(study) if analysis.plasticity else None,
    }


def save_figures(study: Study, analysis: Analysis, out_dir: str | Path) -> dict[str, Path | None]:
    """Write the report's figures as ``<name>.png`` in ``out_dir``; returns each one's path,
    None for a figure without data (no file is written for it)."""
    out_dir = Path(out_dir)
    return {name: None if fig is None else plotting.save_figure(fig, out_dir / f"{name}.png")
            for name, fig in report_figures(study, analysis).items()}
