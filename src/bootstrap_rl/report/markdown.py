"""report.md, rendered from an ``Analysis`` and the names of the figures written beside it."""

from __future__ import annotations

import math
from pathlib import Path

from bootstrap_rl import stats
from bootstrap_rl.report.analysis import MIN_SEEDS_FOR_CLAIMS, Analysis
from bootstrap_rl.report.fmt import byte_size, interval, num, seconds, steps
from bootstrap_rl.report.results import Crossover, Estimate, PoI

CAPTIONS = {
    "learning_curves": "Adult-split `{metric}` per arm: IQM over seeds with a 95% bootstrap band against "
                       "total env steps (childhood charged); dashed lines mark each arm's stage boundaries.",
    "sunk_cost": "The same score against env steps spent on the adult task only.",
    "retention": "Retention: each arm's score on every childhood stage's tasks over time.",
    "policy_drift": "Policy drift: mean KL between the policy at the end of each earlier "
                    "stage and the current policy, on probe observations of that stage.",
    "prodigy": "D:prodigy: the grid's learning curves, and early vs final IQM per "
               "configuration (stars: the compared arms).",
}


def render(analysis: Analysis, figures: dict[str, Path | None]) -> str:
    """report.md's text. ``figures``: each figure's file (None: no data), in the report's order."""
    sections = (_header, _arms, _comparisons, _sunk_cost, _prodigy, _compute)
    lines = [line for section in sections for line in section(analysis)]
    lines += _figures(analysis, figures)
    return "\n".join(lines)


def _table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _est(e: Estimate) -> str:
    return interval(e.estimate, e.ci_low, e.ci_high)


def _poi(p: PoI) -> str:
    return interval(p.poi, p.ci_low, p.ci_high)


def _crossover(c: Crossover) -> str:
    if math.isnan(c.fraction_crossed):  # not computed
        return "n/a"
    if c.fraction_crossed == 0:
        return "never (A is not above B at the end in any resample)"
    return (f"{steps(c.median)} [{steps(c.ci_low)}, {steps(c.ci_high)}], "
            f"in {c.fraction_crossed:.0%} of resamples")


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
        lines += [f"> **Smoke test only.** This study used {study.seeds} seed(s) per arm. Claims "
                  f"need at least {MIN_SEEDS_FOR_CLAIMS} seeds; read the numbers below as a check "
                  "that the pipeline runs, not as evidence.", ""]
    return lines


def _arms(analysis: Analysis) -> list[str]:
    arms = analysis.arms
    lines = ["## Arms", ""]
    lines += _table(
        ["arm", "kind", "stages", "budget (env steps)", "parameters",
         "early IQM [95% CI]", "final IQM [95% CI]"],
        [[f"`{r.arm}`", r.kind, " → ".join(r.stages) or "—", steps(r.budget_env_steps),
          steps(r.param_count), _est(r.early), _est(r.final)] for r in arms])
    return lines + _arm_notes(analysis)


def _arm_notes(analysis: Analysis) -> list[str]:
    """What the arms table cannot say: capacity differences, population-based learners, env
    steps outside the budget, the D:prodigy grid."""
    arms, lines = analysis.arms, []
    if len({r.param_count for r in arms if r.param_count is not None}) > 1:
        lines += ["Parameter counts differ between arms: a difference between them may be one "
                  "of capacity, not of how the budget was spent.", ""]
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


def _comparisons(analysis: Analysis) -> list[str]:
    rows = analysis.comparisons
    lines = ["## Comparisons", ""]
    if not rows:
        return lines + ["No comparisons: the study needs a `direct` arm and a `curriculum` or "
                        "`childhood/...` arm.", ""]
    lines += [f"A against B on `{analysis.study.score_metric}` of the adult split. IQM with "
              "stratified-bootstrap 95% CIs; PoI = probability that a random run of A scores above a "
              "random run of B (0.5 = no difference), with a 95% CI.", ""]
    lines += _table(
        ["A", "B", "early IQM A", "early IQM B", "early PoI(A>B)",
         "final IQM A", "final IQM B", "final PoI(A>B)"],
        [[f"`{r.a}`", f"`{r.b}`", _est(r.early_a), _est(r.early_b), _poi(r.early_poi),
          _est(r.final_a), _est(r.final_b), _poi(r.final_poi)] for r in rows])
    lines += ["Crossover = first env step after which A's IQM curve stays above B's to the end: "
              "median and 95% CI over bootstrap resamples of seeds in which A ends above B. "
              "p = one-sided Mann-Whitney test of A > B on final-window scores; Holm-adjusted "
              "across the comparisons in this table.", ""]
    lines += _table(
        ["A", "B", "crossover (env steps)", "p (final, A > B)", "Holm p", "slow child, strong adult"],
        [[f"`{r.a}`", f"`{r.b}`", _crossover(r.crossover), num(r.pvalue), num(r.pvalue_holm),
          "**yes**" if r.signature else "no"] for r in rows])
    lines += ["The *slow child, strong adult* signature (A:childhood_implications) holds when "
              "the final-window PoI CI lies entirely above 0.5 and the early-window PoI is "
              "below 0.5.", ""]
    return lines + _signatures(rows)


def _signatures(rows) -> list[str]:
    lines = []
    for r in rows:
        verdict = "holds" if r.signature else "does not hold"
        lines.append(f"- `{r.a}` vs `{r.b}`: the slow child, strong adult signature "
                     f"**{verdict}** (early PoI {num(r.early_poi.poi)}, final PoI "
                     f"CI [{num(r.final_poi.ci_low)}, {num(r.final_poi.ci_high)}]).")
    return lines + [""]


def _sunk_cost(analysis: Analysis) -> list[str]:
    sunk = analysis.sunk_cost
    lines = ["## Sunk-cost view: equal adult steps", ""]
    if not sunk:
        return lines + ["Not available: the study has no `direct_adult_steps` arm with results.", ""]
    lines += [f"Each arm's adult-task score counted from the start of its adult stage, against "
              f"`{sunk[0].reference}` (adult task only, {steps(sunk[0].adult_budget)} "
              "steps). Windows are fractions of that adult budget. A PoI above 0.5 means the "
              "childhood left the arm ahead on the adult task step for step.", ""]
    return lines + _table(
        ["arm", "early adult IQM", "reference early", "early PoI", "final adult IQM",
         "reference final", "final PoI"],
        [[f"`{r.arm}`", _est(r.early_arm), _est(r.early_ref), _poi(r.early_poi),
          _est(r.final_arm), _est(r.final_ref), _poi(r.final_poi)] for r in sunk])


def _prodigy(analysis: Analysis) -> list[str]:
    prodigy = analysis.prodigy
    lines = ["## D:prodigy: grid", ""]
    if not prodigy:
        return lines + ["No D:prodigy grid in this study.", ""]
    rho = prodigy.rho
    lines += [f"Spearman's rho between configurations' early and final IQM: **{num(rho.rho)}** "
              f"[{num(rho.ci_low)}, {num(rho.ci_high)}] (95% CI, seeds resampled within "
              f"each configuration), over {rho.n_configs} configurations. A positive rho "
              "means the configurations that plateau higher were also better early.", ""]
    return lines + _table(["configuration", "early IQM", "final IQM"],
                          [[f"`{c.arm.removeprefix('grid/')}`", num(c.early), num(c.final)]
                           for c in prodigy.configs])


COMPUTE_NOTE = (
    "Per compiled run (arms that differ only in data train in one run; arms that share a "
    "program compile it once, in the first of them). Compile = tracing, lowering and "
    "compiling, or loading from the persistent cache; compile + first chunk = wall time "
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
    lines += _table(
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
