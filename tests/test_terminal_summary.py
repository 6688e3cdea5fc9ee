"""The table a study ends with in the terminal: arm, final-window IQM with its interval, verdict
against direct (and curriculum), then the report's path."""

import math

from bootstrap_rl import cli
from bootstrap_rl.report.results import ArmSummary, Comparison, Estimate
from bootstrap_rl.report.terminal import summary, summary_of, summary_table

NAN = math.nan


def arm(name, kind, final):
    return ArmSummary(arm=name, kind=kind, budget_env_steps=1000, param_count=10, learners_per_seed=1,
                      stages=("adult",), early=Estimate(), final=final)


def versus(a, b, verdict):  # only the names and the verdict reach the table
    return Comparison(a, b, verdict, paired=None, early=None, early_direction="", descriptive=None)


ARMS = (arm("direct", "direct", Estimate(0.5, 0.4, 0.62, 12)),
        arm("curriculum", "curriculum", Estimate(0.55, 0.5, 0.61, 12)),
        arm("childhood/route", "childhood", Estimate(0.81234, 0.7, 0.9, 12)),
        arm("direct_adult_steps", "direct_adult_steps", Estimate(0.2, NAN, NAN, 12, "a point")))
COMPARISONS = (versus("curriculum", "direct", "equivalent"), versus("childhood/route", "direct", "holds"),
               versus("childhood/route", "curriculum", "does not hold"))


def test_a_hand_made_analysis_prints_as_a_table():
    text = summary_table(ARMS, COMPARISONS, metric="success", adult="treasure", seeds=12, report="runs/x/report.md")
    assert text.splitlines() == [
        "success on the adult task (treasure), final window (last 10% of env steps), IQM over 12 seeds:",
        "  arm                 final IQM [95% CI]    vs direct    vs curriculum",
        "  ------------------  --------------------  -----------  -------------",
        "  direct              0.5 [0.400, 0.620]    (reference)  -",
        "  curriculum          0.55 [0.500, 0.610]   equivalent   (reference)",
        "  childhood/route     0.812 [0.700, 0.900]  holds        does not hold",
        "  direct_adult_steps  0.2 (CI n/a)          -            -",
        "report: runs/x/report.md",
    ]


def test_fewer_seeds_than_a_verdict_needs_says_so_and_no_curriculum_column_without_comparisons():
    text = summary_table(ARMS[:1], (), metric="return", adult="hard", seeds=2)
    assert text.splitlines()[1].split() == ["arm", "final", "IQM", "[95%", "CI]"]
    assert text.splitlines()[-1] == "smoke test: 2 seed(s) per arm; a verdict needs 10 paired seeds"


def test_the_report_command_prints_what_report_json_holds(make_study, capsys):
    """From report.json (the CLI's path: no second analysis) the table equals the one of the
    analysis that wrote it."""
    from bootstrap_rl.report import analyse, load_study

    study = make_study(seeds=3, total_env_steps=20_000, eval_every=2_000, prodigy_grid=False)
    assert cli.main(["report", str(study)]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == summary_of(study)
    assert printed == summary(analyse(load_study(study)), report=study / "report.md")
    assert "childhood/slow" in printed and printed.endswith(f"report: {study / 'report.md'}")
