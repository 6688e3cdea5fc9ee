"""report.md, rendered from an ``Analysis`` and the names of the figures written beside it.

Every interval is printed through ``fmt`` (``stats.format_interval``): ``n/a`` where there is
none, never a point as a 95% interval. The comparisons' verdicts come first; the unpaired
statistics after them are labelled descriptive.
"""

from __future__ import annotations

from pathlib import Path

from bootstrap_rl import stats
from bootstrap_rl.report.analysis import MIN_SEEDS_FOR_CLAIMS, Analysis
from bootstrap_rl.report.fmt import byte_size, config_name, interval, num, seconds, steps
from bootstrap_rl.report.sections import (
    bootstrap_note, comparisons_section, est, poi, retention_section, table)

CAPTIONS = {
    "learning_curves": "Adult-split `{metric}` per arm: IQM over seeds against total env steps "
                       "(childhood charged), with a 95% bootstrap band where an arm has 5 or more "
                       "seeds; dashed lines mark each arm's stage boundaries.",
    "sunk_cost": "The same score against env steps spent on the adult task only.",
    "retention": "Retention: each arm's score on every childhood stage's tasks over time.",
    "policy_drift": "Policy drift: mean KL between the policy at the end of each earlier "
                    "stage and the current policy, on probe observations of that stage.",
    "prodigy": "D:prodigy: the grid's learning curves, and early vs final IQM per "
               "configuration (stars: the compared arms).",
    "plasticity": "Plasticity per arm against total env steps (mean over seeds): dormant-unit "
                  "fraction, effective rank of the encoder's features, weight norm.",
}


def render(analysis: Analysis, figures: dict[str, Path | None]) -> str:
    """report.md's text. ``figures``: each figure's file (None: no data), in the report's order."""
    sections = (_header, _arms, comparisons_section, _sunk_cost, _prodigy, retention_section,
                _plasticity, _diagnostics, _compute)
    lines = [line for section in sections for line in section(analysis)]
    lines += _figures(analysis, figures)
    return "\n".join(lines)


def _header(analysis: Analysis) -> list[str]:
    study, meta = analysis.study, analysis.study.meta
    lines = [f"# Study report: {meta.get('curriculum', study.path.name)}", ""]
    if meta.get("description"):
        lines += [meta["description"], ""]
    lines += [
        f"- Curriculum: `{meta.get('curriculum', '?')}`; stages: "
        + " → ".join(f"`{s}`" for s in meta.get("stages", [])) + f" (adult: `{study.adult_stage}`)",
        f"- Seeds: {study.seeds} per arm (root seed {meta.get('root_seed', '?')})",
        f"- Budget: {steps(study.total_env_steps)} env steps per arm, childhood steps charged; "
        f"evaluation every {steps(meta.get('eval_every'))} env steps",
        f"- Score: `{study.score_metric}` on the adult split `{study.adult_stage}`; early window = "
        f"evaluations in the first {stats.EARLY_FRACTION:.0%} of the budget (step 0 excluded), final "
        f"window = the last {stats.FINAL_FRACTION:.0%} (definitions: bootstrap-rl's `docs/statistics.md`)",
        "",
    ]
    if analysis.smoke_test:
        lines += [f"> **Smoke test only.** This study used {study.seeds} seed(s) per arm. A verdict "
                  f"needs at least {MIN_SEEDS_FOR_CLAIMS} paired seeds, so every verdict below is "
                  f"`{stats.INCONCLUSIVE}` unless both arms show no signal at all "
                  f"(`{stats.FLOOR}` or `{stats.CEILING}`). Read the numbers as a check that the "
                  "pipeline runs, not as evidence.", ""]
    return lines


def _arms(analysis: Analysis) -> list[str]:
    arms = analysis.arms
    lines = ["## Arms", "", bootstrap_note(), ""]
    lines += table(
        ["arm", "kind", "stages", "budget (env steps)", "parameters: active / total",
         "early IQM [95% CI]", "final IQM [95% CI]"],
        [[f"`{r.arm}`", r.kind, " → ".join(r.stages) or "—", steps(r.budget_env_steps),
          f"{steps(r.active)} / {steps(r.param_count)}", est(r.early), est(r.final)] for r in arms])
    controls = [r for r in arms if r.note]
    if controls:
        lines += ["", "Controls (same budget, same seeds): "
                  + "; ".join(f"`{r.arm}`: {r.note}" for r in controls) + "."]
    return lines + [""] + _arm_notes(analysis)
def _arm_notes(analysis: Analysis) -> list[str]:
    """What the arms table cannot say: capacity differences, population-based learners, env
    steps outside the budget, the D:prodigy grid."""
    arms, lines = analysis.arms, []
    active = {r.arm: r.active for r in arms if r.active is not None}
    if len(set(active.values())) > 1:
        low, high = min(active.values()), max(active.values())
        lines += [f"> **Active parameter counts differ between arms** ({steps(low)} to {steps(high)}: "
                  "measured on the trained networks where the table has them, else planned): a "
                  "difference between arms may be one of capacity, not of how the budget was "
                  "spent. Compare with the capacity-matched direct arm(s), where the study has them.", ""]
    for r in arms:
        if r.learners_per_seed > 1:
            lines += [f"`{r.arm}` trains {r.learners_per_seed} learners per seed, each on "
                      f"1/{r.learners_per_seed} of the envs (its budget is one learner's), and acts, "
                      "is evaluated and probed for drift with the fittest at each point: its parameter "
                      "count is one learner's.", ""]
    if analysis.uncharged_env_steps:
        lines += ["Env steps spent **outside the budget** (managers scoring candidate weights at stage "
                  "starts, as `mixing`'s evolution strategy does; nothing is learned from them by "
                  "gradient, but these arms saw more of the environment than their budget says), "
                  "mean per seed: " + ", ".join(f"`{arm}` {steps(v)}"
                                                for arm, v in analysis.uncharged_env_steps.items())
                  + ".", ""]
    if analysis.prodigy:
        lines += [f"Plus {len(analysis.prodigy.configs)} D:prodigy grid configurations "
                  "(see D:prodigy below).", ""]
    return lines


def _sunk_cost(analysis: Analysis) -> list[str]:
    sunk = analysis.sunk_cost
    lines = ["## Sunk-cost view: equal adult steps", ""]
    if not sunk:
        return lines + ["Not available: the study has no `direct_adult_steps` arm with results.", ""]
    lines += [f"Each arm's adult-task score counted from the start of its adult stage, against "
              f"`{sunk[0].reference}` (adult task only, {steps(sunk[0].adult_budget)} "
              "steps). Windows are fractions of that adult budget. A PoI above 0.5 means the "
              "childhood left the arm ahead on the adult task step for step.", ""]
    return lines + table(
        ["arm", "early adult IQM", "reference early", "early PoI", "final adult IQM",
         "reference final", "final PoI"],
        [[f"`{r.arm}`", est(r.early_arm), est(r.early_ref), poi(r.early_poi),
          est(r.final_arm), est(r.final_ref), poi(r.final_poi)] for r in sunk])


def _prodigy(analysis: Analysis) -> list[str]:
    prodigy = analysis.prodigy
    lines = ["## D:prodigy: grid", ""]
    if not prodigy:
        return lines + ["No D:prodigy grid in this study.", ""]
    rho, ci = prodigy.rho, interval(prodigy.rho.ci_low, prodigy.rho.ci_high)
    ci = (f"{ci} (95% CI, two-level bootstrap: configurations, then seeds within each)"
          if ci != "n/a" else f"(95% CI n/a: {rho.reason or 'no interval'})")
    dropped = (f" ({rho.dropped_configs} configuration(s) without both window scores left out)"
               if rho.dropped_configs else "")
    lines += [f"Spearman's rho between configurations' early and final IQM: **{num(rho.rho)}** "
              f"{ci}, over {rho.n_configs} configurations × {rho.seeds} seeds{dropped}; "
              f"one-sided permutation p = {num(rho.p_value)} (rho > 0, final scores permuted "
              "across configurations). A positive rho means the configurations that end higher "
              "were also better early.", ""]
    lines += _plateau(prodigy.plateau)
    return lines + table(["configuration", "early IQM", "final IQM", "final-window rise"],
                         [[f"`{config_name(c.arm)}`", num(c.early), num(c.final), num(c.rise)]
                          for c in prodigy.configs])


def _plateau(check) -> list[str]:
    """The plateau check of the grid's final window, and a warning when it is still rising."""
    ci = interval(check.interval.low, check.interval.high)
    lines = [f"Plateau check: mean rise across the final window over {check.n} configurations "
             f"(each the mean over its seeds) {num(check.rise)} "
             f"{ci if ci != 'n/a' else '(CI n/a)'}, one-sided sign-flip p = "
             f"{num(check.p_rising)}.", ""]
    if check.still_rising:
        lines += ["> **Still rising.** The grid's scores are still rising across the final "
                  f"window (p = {num(check.p_rising)} ≤ {check.alpha:g}): rho correlates early "
                  "scores with budget-limited ones, not with plateaus.", ""]
    elif not check.detectable:
        lines += [f"With {check.n} configurations no p-value can reach {check.alpha:g}: the "
                  "check cannot flag a rise, and its silence means nothing.", ""]
    return lines


def _diagnostics(analysis: Analysis) -> list[str]:
    lines = ["## What each manager did", ""]
    if not analysis.diagnostics:
        return lines + ["No manager diagnostics in this study (the table's `manager` split).", ""]
    lines += ["Descriptive: each method's own diagnostics (docs/managers.md says what each means), "
              "mean over seeds, at each stage's last evaluation point and at the point of the "
              "stage where it was largest in magnitude.", "",
              "| arm | stage | diagnostic | seeds | last | peak |", "|---|---|---|---|---|---|"]
    for arm, rows in analysis.diagnostics.items():
        lines += [f"| {arm} | {d.stage} | {d.metric} | {d.seeds} | {d.last:.4g} | {d.peak:.4g} |" for d in rows]
    return lines + [""]


def _plasticity(analysis: Analysis) -> list[str]:
    rows = analysis.plasticity
    lines = ["## Plasticity", ""]
    if not rows:
        return lines + ["No network measurements in this study (the table's `network` split).", ""]
    lines += ["Descriptive: the mean over seeds, on the observations of the adult task's evaluation "
              "episodes, when the adult stage starts and at the last evaluation point. Dormant "
              "fraction: the encoder's units whose mean |activation| is at most 2.5% of the layer's "
              "mean (Sokar et al. 2023); feature rank: the effective rank (srank, δ = 0.01) of the "
              "encoder's features (Kumar et al. 2021); weight norm: the L2 norm of every trained "
              "parameter. A childhood that leaves more dormant units or a lower rank than `direct` "
              "has at that point is the loss of plasticity a childhood may cost.", ""]
    by_arm: dict[str, dict] = {}
    for r in rows:
        by_arm.setdefault(r.arm, {})[r.metric] = r
    metrics = [m for m in ("dormant_fraction", "feature_rank", "weight_norm") if any(m in v for v in by_arm.values())]
    header = ["arm"] + [f"{m.replace('_', ' ')}: adult start → end" for m in metrics]
    body = [[f"`{arm}`"] + [f"{num(v[m].adult_start)} → {num(v[m].final)}" if m in v else "n/a" for m in metrics]
            for arm, v in by_arm.items()]
    return lines + table(header, body) + [""]


COMPUTE_NOTE = (
    "Per compiled run (arms that differ only in data train in one run; arms that share a "
    "program compile it once, in the first of them). Compile = tracing, lowering and "
    "compiling, or loading from the persistent cache, anywhere in the run (programs first "
    "needed later, such as the drift measure at the first stage's end, included, so it can "
    "exceed the next column); compile + first chunk = wall time "
    "from the run's start to the end of its first chunk of updates (initialisation and the "
    "step-0 evaluation included); train = the other chunks; evaluation = every evaluation. "
    "Peak memory: the highest of the process's devices since it started, at the run's "
    "end. A resumed run's times cover what it trained after resuming.")


def _compute(analysis: Analysis) -> list[str]:
    runs = analysis.compute
    lines = ["## Compute", ""]
    if not runs:
        return lines + ["No timing in this results directory (`timing/<run>.json`).", ""]
    backend = (analysis.study.meta.get("config") or {}).get("backend")
    no_memory = "n/a on CPU" if backend == "cpu" else "n/a"
    lines += [COMPUTE_NOTE, ""]
    lines += table(
        ["run", "arms", "compile (s)", "compile + first chunk (s)", "train (s)", "evaluation (s)",
         "devices", "seed chunk", "peak device memory"],
        [[f"`{r.run}`", len(r.arms) or "?", seconds(r.compile_s), seconds(r.compile_and_first_chunk_s),
          seconds(r.train_s), seconds(r.eval_s), r.devices if r.devices is not None else "n/a",
          r.seed_chunk if r.seed_chunk is not None else "all seeds",
          byte_size(r.peak_device_memory_bytes) if r.peak_device_memory_bytes is not None else no_memory]
         for r in runs])
    return lines + [f"Compiling, all runs: {seconds(sum(r.compile_s or 0 for r in runs))} s.", ""]


def _figures(analysis: Analysis, figures: dict[str, Path | None]) -> list[str]:
    lines = ["## Figures", ""]
    for key, path in figures.items():
        if path is None:
            lines.append(f"- {key.replace('_', ' ')}: no data in this study.")
        else:
            lines += ["", f"![{key}]({Path(path).name})", "",
                      CAPTIONS[key].format(metric=analysis.study.score_metric)]
    return lines + [""]
