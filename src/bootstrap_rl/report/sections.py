"""report.md's comparisons (the verdicts, then the descriptive statistics) and its retention
and drift section; ``markdown.render`` puts them in place. Every interval goes through ``fmt``
(``stats.format_interval``)."""

from __future__ import annotations

import math

from bootstrap_rl import stats
from bootstrap_rl.report.fmt import num, steps, steps_interval, with_interval
from bootstrap_rl.report.results import Crossover, Estimate, PoI


def table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines + [""]


def est(e: Estimate) -> str:
    """An IQM with its interval, or ``value (CI n/a)``."""
    return with_interval(e.estimate, e.ci_low, e.ci_high)


def poi(p: PoI) -> str:
    return with_interval(p.poi, p.ci_low, p.ci_high)


def paired(d) -> str:
    """A ``stats.PairedDifference`` (or a ``stats.Verdict``'s numbers): mean [sign-flip CI]."""
    mean = d.mean if hasattr(d, "mean") else d.mean_difference
    return with_interval(mean, d.interval.low, d.interval.high)


def bootstrap_note() -> str:
    return (f"IQM over seeds with a 95% percentile-bootstrap CI (descriptive). `CI n/a`: fewer "
            f"than {stats.MIN_SEEDS_FOR_BOOTSTRAP} seeds, where that interval covers far less "
            "than 95% (52% at 2 seeds; `docs/statistics.md`), or a degenerate interval.")


def inference_note(analysis) -> str:
    """Which inference the verdicts rest on, and why (one paragraph at the verdict table)."""
    inf = analysis.inference
    margin = inf.scale.margin
    equivalence = (f"`{stats.EQUIVALENT}` needs the mean difference shown to lie within "
                   f"±{margin:g} (TOST with the same test)" if margin is not None else
                   f"`{stats.EQUIVALENT}` is never declared: a `{analysis.study.score_metric}` "
                   "score has no stated equivalence margin")
    return (
        "**What a verdict rests on.** Seed *s* of every arm starts from the same network and "
        "is evaluated on the same episodes (common random numbers), so the per-seed difference "
        "A − B removes what the seed shares. Each verdict is the paired sign-flip test of the "
        "mean final-window difference over the seeds both arms share (exact at every number of "
        f"seeds, no normality assumed), with Holm's correction across the {inf.family_size} "
        f"verdicts of this report (family-wise error ≤ {inf.alpha:g}); {equivalence}. Rules, "
        "first match wins: " + ", ".join(f"`{r}`" for r in inf.rule_order) + ". No signal "
        "means every paired final score of both arms is at the metric's bound; a verdict "
        f"otherwise needs {inf.min_seeds} paired seeds. The early window is described, not "
        "tested: *slow child* is the sign of the early paired difference, and *strong adult* "
        "is the final-window verdict. The 95% CI of the difference inverts the same test "
        "(none below 6 seeds).")


CALIBRATED = (0.15, 0.75)  # DESIGN: direct's final-window success at the study's budget


def calibration_warning(analysis) -> list[str]:
    """A warning when ``direct``'s final-window success lies outside ``CALIBRATED``: then the
    adult task is too hard or too easy for the budget, and comparisons at the floor or
    ceiling carry no signal (DESIGN, *Scientific protocol*: an all-floor study is a bug)."""
    direct = next((a for a in analysis.arms if a.arm == "direct"), None)
    if analysis.study.score_metric != "success" or direct is None:
        return []
    final = direct.final.estimate
    if math.isnan(final) or CALIBRATED[0] <= final <= CALIBRATED[1]:
        return []
    return [f"> **The adult task is not calibrated for this budget.** `direct`'s final-window "
            f"success is {num(final)}; the protocol asks for {CALIBRATED[0]:g}–{CALIBRATED[1]:g} "
            "(a pilot shows it), so that arms can differ. Pairs where both arms sit at the floor "
            "or ceiling say `no signal`, not that the arms are alike.", ""]


def comparisons_section(analysis) -> list[str]:
    rows = analysis.comparisons
    lines = ["## Comparisons", ""]
    if not rows:
        return lines + ["No comparisons: the study needs a `direct` arm and a `curriculum` or "
                        "`childhood/...` arm.", ""]
    lines += [f"A against B on `{analysis.study.score_metric}` of the adult split "
              f"`{analysis.study.adult_stage}`.", ""]
    lines += calibration_warning(analysis)
    lines += ["### Verdicts", "", inference_note(analysis), ""]
    lines += table(
        ["A", "B", "verdict", "paired seeds", "final A − B [95% CI]", "p (A > B)", "Holm p",
         "early A − B [95% CI]", "early"],
        [[f"`{r.a}`", f"`{r.b}`", f"**{r.verdict}**", r.paired.n, paired(r.paired),
          num(r.paired.p_greater), num(r.paired.p_adjusted), paired(r.early),
          r.early_direction] for r in rows])
    return lines + _reasons(rows) + _descriptive(rows)


def _reasons(rows) -> list[str]:
    """Each verdict's reason; pairs with the same verdict and reason share a line."""
    groups: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        groups.setdefault((r.verdict, r.paired.reason), []).append(f"`{r.a}` vs `{r.b}`")
    return [f"- {', '.join(pairs)}: **{verdict}**: {reason}."
            for (verdict, reason), pairs in groups.items()] + [""]


def _descriptive(rows) -> list[str]:
    lines = ["### Descriptive: unpaired IQM, PoI and crossover (rliable)", "",
             "No verdict reads these: they ignore the pairing by seed. " + bootstrap_note()
             + " PoI = probability that a random run of A scores above a random run of B "
             "(0.5 = no difference), with the same kind of interval.", ""]
    lines += table(
        ["A", "B", "early IQM A", "early IQM B", "early PoI(A>B)",
         "final IQM A", "final IQM B", "final PoI(A>B)"],
        [[f"`{r.a}`", f"`{r.b}`", est(d.early_a), est(d.early_b), poi(d.early_poi),
          est(d.final_a), est(d.final_b), poi(d.final_poi)]
         for r in rows for d in [r.descriptive]])
    lines += ["Crossover = first env step after which A's IQM curve stays above B's to the end: "
              "median and 95% CI over the bootstrap resamples of seeds in which A ends above B, "
              "and the share of resamples in which it does.", ""]
    return lines + table(["A", "B", "crossover (env steps)"],
                         [[f"`{r.a}`", f"`{r.b}`", _crossover(r.descriptive.crossover)]
                          for r in rows])


def _crossover(c: Crossover) -> str:
    if math.isnan(c.fraction_crossed):  # not computed
        return "n/a"
    if c.fraction_crossed == 0:
        return "never (A is not above B at the end in any resample)"
    ci = steps_interval(c.ci_low, c.ci_high)
    ci = "(CI n/a)" if ci == "n/a" else ci
    return f"{steps(c.median)} {ci}, in {c.fraction_crossed:.0%} of resamples"


def retention_section(analysis) -> list[str]:
    found = analysis.retention
    lines = ["## Retention and drift", ""]
    if found is None:
        return lines + ["No childhood stage was evaluated in this study.", ""]
    metric = analysis.study.score_metric
    splits = list(dict.fromkeys(s.split for s in found.summaries))
    lines += [f"Descriptive: not in the verdict family. Each arm's `{metric}` on every childhood "
              "stage's split, final window. " + bootstrap_note(), ""]
    lines += _pivot(found.summaries, splits, lambda s: est(s.score))
    drift = [s for s in found.summaries if s.policy_kl is not None]
    if drift:
        lines += ["Policy drift, final window: mean KL from the policy at the end of that stage "
                  "to the current one, IQM over seeds.", ""]
        lines += _pivot(drift, splits, lambda s: est(s.policy_kl))
    if found.vs_direct:
        reference = found.vs_direct[0].reference
        lines += [f"Against `{reference}` on the same split, paired by seed: the mean of arm − "
                  f"`{reference}` over the shared seeds, with its sign-flip 95% CI (none below "
                  f"6 seeds). `{reference}` never trained on these stages, so a positive "
                  "difference is childhood skill that survived the adult stage.", ""]
        lines += _pivot(found.vs_direct, splits, lambda r: paired(r.difference))
    return lines


def _pivot(items, splits: list[str], cell) -> list[str]:
    """One row per arm, one column per split."""
    arms = list(dict.fromkeys(i.arm for i in items))
    by = {(i.arm, i.split): i for i in items}
    return table(["arm", *[f"`{s}`" for s in splits]],
                 [[f"`{arm}`", *[cell(by[arm, s]) if (arm, s) in by else "—" for s in splits]]
                  for arm in arms])
