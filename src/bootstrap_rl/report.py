"""The study report: statistics and figures from a study results directory.

A study results directory holds ``study.json`` (the curriculum, budget, seeds, score metric,
adult stage, and every arm with its stages, parameter count and, for population arms, its
hyperparameters) and ``results.csv``, a tidy table with columns ``arm, seed, stage,
env_steps, split, metric, value``. ``env_steps`` counts every step an arm has spent, childhood
included; evaluation splits are named after stages (the adult stage, or an earlier stage for
retention), and ``policy_kl`` on split S is the drift from the policy at the end of stage S.

``write_report(results_dir)`` writes ``report.md``, ``report.json`` and PNG figures next to
them. The pieces (``load_study``, ``arm_curves``, ``comparison_table``, ...) are public so
that notebooks show the same numbers without re-computing them differently.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bootstrap_rl import plotting, stats
from bootstrap_rl.results import write_json, write_text

MIN_SEEDS_FOR_CLAIMS = 10
COMPARED_KINDS = ("direct", "curriculum", "childhood")


# --------------------------------------------------------------------------------------------
# Loading.


@dataclass
class Study:
    """A study results directory, loaded: ``meta`` from study.json, ``table`` from results.csv."""

    path: Path
    meta: dict
    table: "object"  # pandas.DataFrame
    arms: dict[str, dict] = field(default_factory=dict)

    @property
    def score_metric(self) -> str:
        return self.meta.get("score_metric", "return")

    @property
    def adult_stage(self) -> str:
        return self.meta.get("adult_stage") or (self.meta.get("stages") or ["adult"])[-1]

    @property
    def childhood_stages(self) -> list[str]:
        return [s for s in self.meta.get("stages", []) if s != self.adult_stage]

    @property
    def total_env_steps(self) -> int:
        return int(self.meta["total_env_steps"])

    @property
    def seeds(self) -> int:
        if "seeds" in self.meta:
            return int(self.meta["seeds"])
        return int(self.table["seed"].nunique()) if len(self.table) else 0

    def rows(self, arm: str, split: str, metric: str):
        """The table's rows for one (arm, split, metric), or None (grouped once, then cached)."""
        if not hasattr(self, "_groups"):
            self._groups = {key: frame for key, frame
                            in self.table.groupby(["arm", "split", "metric"], sort=False)}
        return self._groups.get((arm, split, metric))

    def arms_of_kind(self, *kinds: str) -> list[str]:
        """Names of the arms of these kinds that have rows in the table, in study.json order."""
        present = set(self.table["arm"].unique()) if len(self.table) else set()
        return [name for name, arm in self.arms.items()
                if arm.get("kind") in kinds and name in present]


def load_study(results_dir: str | Path) -> Study:
    """Read ``study.json`` and ``results.csv`` from a study results directory."""
    import pandas as pd

    path = Path(results_dir)
    meta = json.loads((path / "study.json").read_text())
    table = pd.read_csv(path / "results.csv")
    table["split"] = table["split"].astype(str)
    table["metric"] = table["metric"].astype(str)
    table["arm"] = table["arm"].astype(str)
    arms = {arm["name"]: arm for arm in meta.get("arms", [])}
    for name in table["arm"].unique():  # arms in the table but not described: treat as direct
        arms.setdefault(name, {"name": name, "kind": _kind_from_name(name), "stages": []})
    return Study(path=path, meta=meta, table=table, arms=arms)


def _kind_from_name(name: str) -> str:
    head = name.split("/", 1)[0]
    return head if head in ("direct", "curriculum", "childhood", "direct_adult_steps",
                            "population") else "direct"


def arm_curves(study: Study, arm: str, split: str, metric: str):
    """``(env_steps[points], curves[seeds, points], seeds[seeds])`` for one arm, split, metric.

    Missing cells are NaN; an arm with no such rows gives empty arrays.
    """
    rows = study.rows(arm, split, metric)
    if rows is None or rows.empty:
        return np.zeros(0), np.zeros((0, 0)), np.zeros(0, dtype=int)
    seeds, seed_index = np.unique(rows["seed"].to_numpy(), return_inverse=True)
    steps, step_index = np.unique(rows["env_steps"].to_numpy(np.float64), return_inverse=True)
    total = np.zeros((seeds.size, steps.size))
    count = np.zeros((seeds.size, steps.size))
    np.add.at(total, (seed_index, step_index), rows["value"].to_numpy(np.float64))
    np.add.at(count, (seed_index, step_index), 1)  # duplicated rows are averaged
    with np.errstate(invalid="ignore"):
        return steps, np.where(count > 0, total / np.maximum(count, 1), np.nan), seeds


def score_curves(study: Study, arm: str, split: str | None = None):
    """The score metric's curves on a split (default: the adult split).

    Falls back to ``return`` when the score metric was not recorded on that split.
    """
    split = split or study.adult_stage
    steps, curves, seeds = arm_curves(study, arm, split, study.score_metric)
    if curves.size == 0 and study.score_metric != "return":
        steps, curves, seeds = arm_curves(study, arm, split, "return")
    return steps, curves, seeds


def _finite(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64).ravel()
    return x[~np.isnan(x)]


def _stage(arm: dict, name: str) -> dict | None:
    return next((s for s in arm.get("stages", []) if s.get("name") == name), None)


def stage_boundaries(arm: dict) -> list[float]:
    """Env steps at which an arm moved from one stage to the next."""
    stages = arm.get("stages", [])
    return [float(s["end_env_steps"]) for s in stages[:-1] if "end_env_steps" in s]


# --------------------------------------------------------------------------------------------
# Statistics.


def _iqm_ci(scores, resamples: int, seed: int) -> dict:
    scores = _finite(scores)
    if scores.size == 0:
        return {"estimate": math.nan, "ci_low": math.nan, "ci_high": math.nan, "runs": 0}
    return stats.stratified_bootstrap_ci(scores, resamples=resamples, seed=seed)


def _poi_ci(x, y, resamples: int, seed: int) -> dict:
    x, y = _finite(x), _finite(y)
    if x.size == 0 or y.size == 0:
        return {"poi": math.nan, "ci_low": math.nan, "ci_high": math.nan}
    return stats.poi_with_ci(x, y, resamples=resamples, seed=seed)


def window_scores_of(study: Study, arm: str, split: str | None = None) -> dict[str, np.ndarray]:
    """``{"early": [seeds], "final": [seeds]}``: an arm's window scores on a split (NaN: none)."""
    steps, curves, _ = score_curves(study, arm, split)
    if curves.size == 0:
        return {"early": np.zeros(0), "final": np.zeros(0)}
    # windows are fractions of the arm's own budget: the study's total for every arm except
    # direct_adult_steps, which spends the adult steps only
    total = float(study.arms.get(arm, {}).get("budget_env_steps") or study.total_env_steps)
    return {"early": stats.early_window(curves, steps, total),
            "final": stats.final_window(curves, env_steps=steps, total_env_steps=total)}


def comparison_pairs(study: Study) -> list[tuple[str, str]]:
    """(A, B) pairs: curriculum vs direct, each childhood arm vs direct and vs curriculum.

    Every arm of kind ``direct`` is a rival (a capacity-matched direct arm is one too).
    """
    direct = study.arms_of_kind("direct")
    curriculum = study.arms_of_kind("curriculum")
    childhood = study.arms_of_kind("childhood")
    pairs = [(c, d) for c in curriculum for d in direct]
    pairs += [(c, d) for c in childhood for d in direct]
    pairs += [(c, r) for c in childhood for r in curriculum]
    return pairs


def compare(study: Study, arm_a: str, arm_b: str, *, resamples: int = 2000, seed: int = 0) -> dict:
    """Every statistic of one comparison of arm A against arm B on the adult split's score."""
    a, b = window_scores_of(study, arm_a), window_scores_of(study, arm_b)
    out = {"a": arm_a, "b": arm_b}
    for window in ("early", "final"):
        out[f"{window}_a"] = _iqm_ci(a[window], resamples, seed)
        out[f"{window}_b"] = _iqm_ci(b[window], resamples, seed)
        out[f"{window}_poi"] = _poi_ci(a[window], b[window], resamples, seed)
    out["pvalue"] = stats.improvement_pvalue(_finite(a["final"]), _finite(b["final"]))
    out["signature"] = stats.slow_child_strong_adult(out["early_poi"], out["final_poi"])
    steps_a, curves_a, _ = score_curves(study, arm_a)
    steps_b, curves_b, _ = score_curves(study, arm_b)
    common, ia, ib = np.intersect1d(steps_a, steps_b, return_indices=True)
    if common.size:
        _, out["crossover"] = stats.crossover(curves_a[:, ia], curves_b[:, ib], common,
                                              resamples=resamples, seed=seed)
    else:
        out["crossover"] = {"point": math.nan, "median": math.nan, "ci_low": math.nan,
                            "ci_high": math.nan, "fraction_crossed": math.nan}
    return out


def comparisons(study: Study, *, resamples: int = 2000, seed: int = 0) -> list[dict]:
    """``compare`` for every pair of ``comparison_pairs``, with Holm-adjusted p-values added."""
    rows = [compare(study, a, b, resamples=resamples, seed=seed) for a, b in comparison_pairs(study)]
    adjusted = stats.holm([r["pvalue"] for r in rows])
    for row, p in zip(rows, adjusted):
        row["pvalue_holm"] = float(p)
    return rows


def comparison_table(rows: list[dict]):
    """The comparisons as a flat pandas DataFrame, one row per comparison (for notebooks)."""
    import pandas as pd

    flat = []
    for r in rows:
        item = {"A": r["a"], "B": r["b"]}
        for window in ("early", "final"):
            item[f"{window} IQM A"] = r[f"{window}_a"]["estimate"]
            item[f"{window} IQM B"] = r[f"{window}_b"]["estimate"]
            item[f"{window} PoI"] = r[f"{window}_poi"]["poi"]
            item[f"{window} PoI low"] = r[f"{window}_poi"]["ci_low"]
            item[f"{window} PoI high"] = r[f"{window}_poi"]["ci_high"]
        item["crossover median"] = r["crossover"]["median"]
        item["crossed share"] = r["crossover"]["fraction_crossed"]
        item["p (final, A > B)"] = r["pvalue"]
        item["Holm p"] = r.get("pvalue_holm", math.nan)
        item["slow child, strong adult"] = r["signature"]
        flat.append(item)
    return pd.DataFrame(flat)


def arm_summary(study: Study, *, resamples: int = 2000, seed: int = 0) -> list[dict]:
    """Per arm: kind, budget, parameter count, early and final IQM of the adult score with CIs."""
    out = []
    for name, arm in study.arms.items():
        if arm.get("kind") == "population":
            continue
        windows = window_scores_of(study, name)
        out.append({
            "arm": name, "kind": arm.get("kind", ""),
            "budget_env_steps": arm.get("budget_env_steps"),
            "param_count": arm.get("param_count"),
            "learners_per_seed": arm.get("learners_per_seed", 1),
            "stages": [s.get("name") for s in arm.get("stages", [])],
            "early": _iqm_ci(windows["early"], resamples, seed),
            "final": _iqm_ci(windows["final"], resamples, seed),
        })
    return out


def adult_step_curves(study: Study, arm: str):
    """``(adult_steps, curves)``: the adult-split score from the arm's adult-stage start on.

    Adult steps are env steps spent on the adult task; for direct arms they are all env steps.
    """
    steps, curves, _ = score_curves(study, arm)
    stage = _stage(study.arms.get(arm, {}), study.adult_stage)
    start = float(stage["start_env_steps"]) if stage and "start_env_steps" in stage else 0.0
    keep = steps >= start
    return steps[keep] - start, curves[:, keep] if curves.size else curves


def sunk_cost(study: Study, *, resamples: int = 2000, seed: int = 0) -> list[dict] | None:
    """Curriculum and childhood arms against ``direct_adult_steps`` at equal adult steps.

    Both are scored over the windows of the adult budget A (``direct_adult_steps``'s budget):
    early = adult steps in (0, 0.2 A], final = (0.9 A, ...]. None when the reference arm is
    missing.
    """
    reference = study.arms_of_kind("direct_adult_steps")
    if not reference:
        return None
    ref = reference[0]
    ref_steps, ref_curves = adult_step_curves(study, ref)
    if ref_curves.size == 0:
        return None
    adult_budget = float(study.arms[ref].get("budget_env_steps") or ref_steps.max())

    def windows(steps, curves):
        return {"early": stats.early_window(curves, steps, adult_budget),
                "final": stats.final_window(curves, env_steps=steps, total_env_steps=adult_budget)}

    ref_windows = windows(ref_steps, ref_curves)
    rows = []
    for arm in study.arms_of_kind("curriculum", "childhood"):
        steps, curves = adult_step_curves(study, arm)
        if curves.size == 0:
            continue
        w = windows(steps, curves)
        rows.append({
            "arm": arm, "reference": ref, "adult_budget": adult_budget,
            **{f"{k}_arm": _iqm_ci(w[k], resamples, seed) for k in ("early", "final")},
            **{f"{k}_ref": _iqm_ci(ref_windows[k], resamples, seed) for k in ("early", "final")},
            **{f"{k}_poi": _poi_ci(w[k], ref_windows[k], resamples, seed) for k in ("early", "final")},
        })
    return rows


def population(study: Study, *, resamples: int = 2000, seed: int = 0) -> dict | None:
    """D:prodigy over the population arms: per-config early/final IQM and Spearman's rho.

    None when the study has fewer than one population arm with data.
    """
    names = study.arms_of_kind("population")
    configs = []
    for name in names:
        w = window_scores_of(study, name)
        if w["early"].size == 0:
            continue
        configs.append({"arm": name, "hparams": study.arms[name].get("hparams", {}),
                        "early_seeds": w["early"], "final_seeds": w["final"],
                        "early": float(stats.iqm(_finite(w["early"]))) if _finite(w["early"]).size else math.nan,
                        "final": float(stats.iqm(_finite(w["final"]))) if _finite(w["final"]).size else math.nan})
    if not configs:
        return None
    seeds = max(c["early_seeds"].size for c in configs)

    def padded(key):  # configs with fewer seeds are NaN-padded, and prodigy_rho drops them
        return np.stack([np.pad(c[key], (0, seeds - c[key].size), constant_values=np.nan)
                         for c in configs])

    rho = stats.prodigy_rho(padded("early_seeds"), padded("final_seeds"),
                            resamples=resamples, seed=seed)
    return {"configs": configs, "rho": rho}


# --------------------------------------------------------------------------------------------
# Figures.


def uncharged_env_steps(study: Study) -> dict[str, float]:
    """Per arm, the env steps its managers spent outside the budget by the end (mean over
    seeds), for arms where that is not zero (the ``train`` metric ``uncharged_env_steps``)."""
    out = {}
    for arm in study.arms:
        rows = study.rows(arm, "train", "uncharged_env_steps")
        if rows is not None and len(rows):
            value = float(rows.groupby("seed")["value"].max().mean())
            if value > 0:
                out[arm] = value
    return out


def compute(study: Study) -> list[dict]:
    """Per compiled run (``timing/<run>.json``, as the study wrote it): its arms, compile,
    training and evaluation seconds, devices, seed chunk and peak device memory. Empty when
    the results directory has no timing (a synthetic or copied table)."""
    folder = study.path / "timing"
    if not folder.is_dir():
        return []
    arms_of: dict[str, list[str]] = {}
    for name, arm in study.arms.items():
        if arm.get("run"):
            arms_of.setdefault(arm["run"], []).append(name)
    order = list(arms_of)
    rows = []
    for path in sorted(folder.glob("*.json"), key=lambda p: (order.index(p.stem) if p.stem in order else len(order), p.stem)):
        timing = json.loads(path.read_text())
        rows.append({"run": path.stem, "arms": arms_of.get(path.stem, []), **{
            key: timing.get(key) for key in (
                "compile_s", "compile_and_first_chunk_s", "train_s", "eval_s", "persistent_cache_hits",
                "devices", "processes", "batch", "padded_batch", "seed_chunk", "peak_device_memory_bytes")}})
    return rows


def _bytes(n) -> str:
    if n is None:
        return "n/a"
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def _seconds(x) -> str:
    return "n/a" if x is None else f"{x:,.1f}"


def _colors(study: Study) -> dict[str, str]:
    names = [n for n, a in study.arms.items() if a.get("kind") != "population"]
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


def plot_learning_curves(study: Study, path: Path) -> Path | None:
    """Adult-split score per arm: IQM with a 95% band; dashed lines at stage boundaries."""
    plt = plotting.pyplot()
    colors = _colors(study)
    fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=120)
    drawn = False
    for name, color in colors.items():
        steps, curves, _ = score_curves(study, name)
        if plotting.plot_band(ax, steps, curves, color=color, label=name):
            drawn = True
            if study.arms[name].get("kind") != "direct":
                for x in stage_boundaries(study.arms[name]):
                    ax.axvline(x, color=color, ls="--", lw=0.8, alpha=0.7)
    if not drawn:
        plt.close(fig)
        return None
    ax.set_title(f"{study.adult_stage} ({study.score_metric}), IQM over seeds, 95% CI; "
                 "dashed: stage boundaries", fontsize=9)
    _finish(ax, ylabel=study.score_metric)
    fig.tight_layout()
    return plotting.save_figure(fig, path)


def plot_sunk_cost(study: Study, path: Path) -> Path | None:
    """Adult-split score against env steps spent on the adult task only."""
    plt = plotting.pyplot()
    colors = _colors(study)
    fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=120)
    drawn = False
    for name, color in colors.items():
        steps, curves = adult_step_curves(study, name)
        drawn |= plotting.plot_band(ax, steps, curves, color=color, label=name)
    if not drawn:
        plt.close(fig)
        return None
    ax.set_title("sunk-cost view: adult-task score at equal adult steps", fontsize=9)
    _finish(ax, xlabel="env steps on the adult task", ylabel=study.score_metric)
    fig.tight_layout()
    return plotting.save_figure(fig, path)


def plot_retention(study: Study, path: Path) -> Path | None:
    """One panel per childhood stage: each arm's score on that stage's tasks over time."""
    splits = [s for s in study.childhood_stages if (study.table["split"] == s).any()]
    if not splits:
        return None
    plt = plotting.pyplot()
    colors = _colors(study)
    fig, axes = plt.subplots(1, len(splits), figsize=(4.2 * len(splits), 3.6), dpi=110,
                             squeeze=False)
    for ax, split in zip(axes[0], splits):
        for name, color in colors.items():
            steps, curves, _ = score_curves(study, name, split)
            plotting.plot_band(ax, steps, curves, color=color, label=name)
            if study.arms[name].get("kind") != "direct" and curves.size:
                for x in stage_boundaries(study.arms[name]):
                    ax.axvline(x, color=color, ls="--", lw=0.6, alpha=0.5)
        ax.set_title(f"retention: {split}", fontsize=9)
        _finish(ax, ylabel=study.score_metric, legend=ax is axes[0][0])
    fig.tight_layout()
    return plotting.save_figure(fig, path)


def plot_policy_drift(study: Study, path: Path) -> Path | None:
    """One panel per arm: KL from the policy at the end of each earlier stage, over time."""
    t = study.table
    kl = t[t["metric"] == "policy_kl"]
    arms = [a for a in study.arms if a in set(kl["arm"])]
    if not arms:
        return None
    plt = plotting.pyplot()
    fig, axes = plt.subplots(1, len(arms), figsize=(4.2 * len(arms), 3.6), dpi=110,
                             squeeze=False, sharey=True)
    for ax, arm in zip(axes[0], arms):
        splits = [s for s in study.meta.get("stages", []) if s in set(kl[kl["arm"] == arm]["split"])]
        splits += sorted(set(kl[kl["arm"] == arm]["split"]) - set(splits))
        for i, split in enumerate(splits):
            steps, curves, _ = arm_curves(study, arm, split, "policy_kl")
            plotting.plot_band(ax, steps, curves, color=f"C{i % 10}", label=f"since end of {split}")
        ax.set_title(f"policy drift: {arm}", fontsize=9)
        _finish(ax, ylabel="mean KL(end of stage || now)" if ax is axes[0][0] else None)
    fig.tight_layout()
    return plotting.save_figure(fig, path)


def plot_prodigy(study: Study, pop: dict, path: Path, arm_rows: list[dict] | None = None) -> Path:
    """Population curves (left) and each configuration's early vs final IQM (right)."""
    plt = plotting.pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110)
    for i, config in enumerate(pop["configs"]):
        steps, curves, _ = score_curves(study, config["arm"])
        plotting.plot_band(left, steps, curves, color=f"C{i % 10}", band=False,
                           label=config["arm"].removeprefix("population/"))
    left.set_title("population: adult score, IQM over seeds", fontsize=9)
    _finish(left, ylabel=study.score_metric, legend=len(pop["configs"]) <= 12)
    early = np.array([c["early"] for c in pop["configs"]])
    final = np.array([c["final"] for c in pop["configs"]])
    right.scatter(early, final, color="0.3", label="population configuration")
    for c in pop["configs"]:
        right.annotate(c["arm"].removeprefix("population/"), (c["early"], c["final"]),
                       fontsize=5, alpha=0.7)
    colors = _colors(study)
    for row in arm_rows or []:
        if row["kind"] in COMPARED_KINDS:
            right.scatter([row["early"]["estimate"]], [row["final"]["estimate"]], marker="*",
                          s=120, color=colors.get(row["arm"]), label=row["arm"])
    rho = pop["rho"]
    right.set_title(f"D:prodigy: Spearman rho = {_num(rho['rho'])} "
                    f"[{_num(rho['ci_low'])}, {_num(rho['ci_high'])}] over {rho['n_configs']} configs",
                    fontsize=9)
    _finish(right, xlabel=f"early-window IQM ({study.score_metric})",
            ylabel=f"final-window IQM ({study.score_metric})")
    fig.tight_layout()
    return plotting.save_figure(fig, path)


# --------------------------------------------------------------------------------------------
# Markdown.


def _num(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:.3g}"


def _ci(d: dict, key: str = "estimate") -> str:
    if d is None or math.isnan(d.get(key, math.nan)):
        return "n/a"
    return f"{_num(d[key])} [{_num(d['ci_low'])}, {_num(d['ci_high'])}]"


def _steps(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:,.0f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _crossover_text(c: dict) -> str:
    if math.isnan(c.get("fraction_crossed", math.nan)):
        return "n/a"
    if c["fraction_crossed"] == 0:
        return "never (A is not above B at the end in any resample)"
    return (f"{_steps(c['median'])} [{_steps(c['ci_low'])}, {_steps(c['ci_high'])}], "
            f"in {c['fraction_crossed']:.0%} of resamples")


def _json_safe(value):
    """NaN -> None and numpy scalars -> Python numbers, so report.json is strict JSON."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    return value


def write_report(results_dir: str | Path, *, resamples: int = 2000, seed: int = 0) -> Path:
    """Write ``report.md``, ``report.json`` and the figures into a study results directory.

    Returns the path of ``report.md``. Figures whose data are absent (no childhood stages, no
    policy drift, no population) are left out, and the report says so.
    """
    study = load_study(results_dir)
    out = study.path
    rows = comparisons(study, resamples=resamples, seed=seed)
    arm_rows = arm_summary(study, resamples=resamples, seed=seed)
    sunk = sunk_cost(study, resamples=resamples, seed=seed)
    pop = population(study, resamples=resamples, seed=seed)

    figures = {
        "learning_curves": plot_learning_curves(study, out / "learning_curves.png"),
        "sunk_cost": plot_sunk_cost(study, out / "sunk_cost.png") if sunk else None,
        "retention": plot_retention(study, out / "retention.png"),
        "policy_drift": plot_policy_drift(study, out / "policy_drift.png"),
        "prodigy": plot_prodigy(study, pop, out / "prodigy.png", arm_rows) if pop else None,
    }

    meta = study.meta
    metric, adult = study.score_metric, study.adult_stage
    lines = [f"# Study report: {meta.get('curriculum', study.path.name)}", ""]
    if meta.get("description"):
        lines += [meta["description"], ""]
    lines += [
        f"- Curriculum: `{meta.get('curriculum', '?')}`; stages: "
        + " → ".join(f"`{s}`" for s in meta.get("stages", [])) + f" (adult: `{adult}`)",
        f"- Seeds: {study.seeds} per arm (root seed {meta.get('root_seed', '?')})",
        f"- Budget: {_steps(study.total_env_steps)} env steps per arm, childhood steps charged; "
        f"evaluation every {_steps(meta.get('eval_every'))} env steps",
        f"- Score: `{metric}` on the adult split `{adult}`; early window = evaluations in the "
        f"first {stats.EARLY_FRACTION:.0%} of the budget (step 0 excluded), final window = the "
        f"last {stats.FINAL_FRACTION:.0%} (definitions: bootstrap-rl's `docs/statistics.md`)",
        "",
    ]
    if study.seeds < MIN_SEEDS_FOR_CLAIMS:
        lines += [f"> **Smoke test only.** This study used {study.seeds} seed(s) per arm. Claims "
                  f"need at least {MIN_SEEDS_FOR_CLAIMS} seeds; read the numbers below as a check "
                  "that the pipeline runs, not as evidence.", ""]

    lines += ["## Arms", ""]
    lines += _table(
        ["arm", "kind", "stages", "budget (env steps)", "parameters",
         "early IQM [95% CI]", "final IQM [95% CI]"],
        [[f"`{r['arm']}`", r["kind"], " → ".join(r["stages"]) or "—",
          _steps(r["budget_env_steps"]), _steps(r["param_count"]), _ci(r["early"]), _ci(r["final"])]
         for r in arm_rows])
    counts = {r["param_count"] for r in arm_rows if r["param_count"] is not None}
    if len(counts) > 1:
        lines += ["Parameter counts differ between arms: a difference between them may be one "
                  "of capacity, not of how the budget was spent.", ""]
    for r in arm_rows:
        if r["learners_per_seed"] > 1:
            lines += [f"`{r['arm']}` trains {r['learners_per_seed']} learners per seed, each on "
                      f"1/{r['learners_per_seed']} of the envs (its budget is one learner's), and acts, "
                      "is evaluated and probed for drift with the fittest at each point: its parameter "
                      "count is one learner's.", ""]
    outside = uncharged_env_steps(study)
    if outside:
        lines += ["Env steps spent **outside the budget** (managers scoring candidate weights at stage "
                  "starts, as `mixing`'s evolution strategy does; nothing is learned from them by "
                  "gradient, but these arms saw more of the environment than their budget says), "
                  "mean per seed: " + ", ".join(f"`{arm}` {_steps(v)}" for arm, v in outside.items())
                  + ".", ""]
    if pop:
        lines += [f"Plus {len(pop['configs'])} population configurations (see D:prodigy below).", ""]

    lines += ["## Comparisons", ""]
    if not rows:
        lines += ["No comparisons: the study needs a `direct` arm and a `curriculum` or "
                  "`childhood/...` arm.", ""]
    else:
        lines += [f"A against B on `{metric}` of the adult split. IQM with stratified-bootstrap 95% "
                  "CIs; PoI = probability that a random run of A scores above a random run of B "
                  "(0.5 = no difference), with a 95% CI.", ""]
        lines += _table(
            ["A", "B", "early IQM A", "early IQM B", "early PoI(A>B)",
             "final IQM A", "final IQM B", "final PoI(A>B)"],
            [[f"`{r['a']}`", f"`{r['b']}`", _ci(r["early_a"]), _ci(r["early_b"]),
              _ci(r["early_poi"], "poi"), _ci(r["final_a"]), _ci(r["final_b"]),
              _ci(r["final_poi"], "poi")] for r in rows])
        lines += ["Crossover = first env step after which A's IQM curve stays above B's to the end: "
                  "median and 95% CI over bootstrap resamples of seeds in which A ends above B. "
                  "p = one-sided Mann-Whitney test of A > B on final-window scores; Holm-adjusted "
                  "across the comparisons in this table.", ""]
        lines += _table(
            ["A", "B", "crossover (env steps)", "p (final, A > B)", "Holm p",
             "slow child, strong adult"],
            [[f"`{r['a']}`", f"`{r['b']}`", _crossover_text(r["crossover"]), _num(r["pvalue"]),
              _num(r["pvalue_holm"]), "**yes**" if r["signature"] else "no"] for r in rows])
        lines += ["The *slow child, strong adult* signature (A:childhood_implications) holds when "
                  "the final-window PoI CI lies entirely above 0.5 and the early-window PoI is "
                  "below 0.5.", ""]
        for r in rows:
            verdict = "holds" if r["signature"] else "does not hold"
            lines.append(f"- `{r['a']}` vs `{r['b']}`: the slow child, strong adult signature "
                         f"**{verdict}** (early PoI {_num(r['early_poi']['poi'])}, final PoI "
                         f"CI [{_num(r['final_poi']['ci_low'])}, {_num(r['final_poi']['ci_high'])}]).")
        lines.append("")

    lines += ["## Sunk-cost view: equal adult steps", ""]
    if not sunk:
        lines += ["Not available: the study has no `direct_adult_steps` arm with results.", ""]
    else:
        lines += [f"Each arm's adult-task score counted from the start of its adult stage, against "
                  f"`{sunk[0]['reference']}` (adult task only, {_steps(sunk[0]['adult_budget'])} "
                  "steps). Windows are fractions of that adult budget. A PoI above 0.5 means the "
                  "childhood left the arm ahead on the adult task step for step.", ""]
        lines += _table(
            ["arm", "early adult IQM", "reference early", "early PoI", "final adult IQM",
             "reference final", "final PoI"],
            [[f"`{r['arm']}`", _ci(r["early_arm"]), _ci(r["early_ref"]), _ci(r["early_poi"], "poi"),
              _ci(r["final_arm"]), _ci(r["final_ref"]), _ci(r["final_poi"], "poi")] for r in sunk])

    lines += ["## D:prodigy: population", ""]
    if not pop:
        lines += ["No population in this study.", ""]
    else:
        rho = pop["rho"]
        lines += [f"Spearman's rho between configurations' early and final IQM: **{_num(rho['rho'])}** "
                  f"[{_num(rho['ci_low'])}, {_num(rho['ci_high'])}] (95% CI, seeds resampled within "
                  f"each configuration), over {rho['n_configs']} configurations. A positive rho "
                  "means the configurations that plateau higher were also better early.", ""]
        lines += _table(["configuration", "early IQM", "final IQM"],
                        [[f"`{c['arm'].removeprefix('population/')}`", _num(c["early"]),
                          _num(c["final"])] for c in pop["configs"]])

    runs = compute(study)
    lines += ["## Compute", ""]
    if not runs:
        lines += ["No timing in this results directory (`timing/<run>.json`).", ""]
    else:
        backend = (meta.get("config") or {}).get("backend")
        no_memory = "n/a on CPU" if backend == "cpu" else "n/a"
        lines += ["Per compiled run (arms that differ only in data train in one run; arms that share a "
                  "program compile it once, in the first of them). Compile = tracing, lowering and "
                  "compiling, or loading from the persistent cache; compile + first chunk = wall time "
                  "from the run's start to the end of its first chunk of updates (initialisation and the "
                  "step-0 evaluation included); train = the other chunks; evaluation = every evaluation. "
                  "Peak memory: the highest of the process's devices since it started, at the run's "
                  "end. A resumed run's times cover what it trained after resuming.", ""]
        lines += _table(
            ["run", "arms", "compile (s)", "compile + first chunk (s)", "train (s)", "evaluation (s)",
             "devices", "seed chunk", "peak device memory"],
            [[f"`{r['run']}`", len(r["arms"]) or "?", _seconds(r["compile_s"]),
              _seconds(r["compile_and_first_chunk_s"]), _seconds(r["train_s"]), _seconds(r["eval_s"]),
              r["devices"] if r["devices"] is not None else "n/a",
              r["seed_chunk"] if r["seed_chunk"] is not None else "all seeds",
              _bytes(r["peak_device_memory_bytes"]) if r["peak_device_memory_bytes"] is not None else no_memory]
             for r in runs])
        lines += [f"Compiling, all runs: {_seconds(sum(r['compile_s'] or 0 for r in runs))} s.", ""]

    lines += ["## Figures", ""]
    captions = {
        "learning_curves": f"Adult-split `{metric}` per arm: IQM over seeds with a 95% bootstrap "
                           "band against total env steps (childhood charged); dashed lines mark "
                           "each arm's stage boundaries.",
        "sunk_cost": "The same score against env steps spent on the adult task only.",
        "retention": "Retention: each arm's score on every childhood stage's tasks over time.",
        "policy_drift": "Policy drift: mean KL between the policy at the end of each earlier "
                        "stage and the current policy, on probe observations of that stage.",
        "prodigy": "D:prodigy: population learning curves, and early vs final IQM per "
                   "configuration (stars: the compared arms).",
    }
    for key, fig in figures.items():
        if fig is None:
            lines.append(f"- {key.replace('_', ' ')}: no data in this study.")
        else:
            lines += ["", f"![{key}]({fig.name})", "", captions[key]]
    lines.append("")

    write_json(out / "report.json", _json_safe({
        "comparisons": rows, "arms": arm_rows, "sunk_cost": sunk, "uncharged_env_steps": outside,
        "compute": runs,
        "population": None if pop is None else {
            "rho": pop["rho"],
            "configs": [{k: v for k, v in c.items() if not k.endswith("_seeds")}
                        for c in pop["configs"]]},
        "figures": {k: (v.name if v else None) for k, v in figures.items()},
    }))
    return write_text(out / "report.md", "\n".join(lines))
