"""The study report on synthetic results directories with planted effects (tests/conftest.py)."""

import json
import re

import pytest

from bootstrap_rl import report, stats

RESAMPLES = 200  # enough for the planted effects; keeps the suite fast


def strict_json(path):
    def no_nan(name):
        raise ValueError(f"non-standard JSON constant {name}")
    return json.loads(path.read_text(), parse_constant=no_nan)


POINT_INTERVAL = re.compile(r"\[(-?[0-9][^,\]]*), \1\]")  # "[x, x]": a point printed as a CI
PAIRED_KEYS = {"mean_difference", "interval", "p_greater", "p_equivalent", "p_adjusted",
               "family_size", "margin", "reason", "verdict", "n"}


def verdicts(summary) -> dict:
    return {(c["a"], c["b"]): c["verdict"] for c in summary["comparisons"]}


def test_report_gives_paired_verdicts_judged_together(make_study):
    study = make_study(seeds=10)
    md = report.write_report(study, resamples=RESAMPLES).read_text()
    assert "Smoke test" not in md  # 10 seeds
    assert "| `childhood/slow` | `direct` | **holds** | 10 |" in md
    assert "| `childhood/null` | `direct` | **does not hold** | 10 |" in md
    assert "common random numbers" in md and "Holm's correction across the 5 verdicts" in md
    assert "signature" not in md and not POINT_INTERVAL.search(md)
    for figure in ("learning_curves", "sunk_cost", "retention", "policy_drift", "prodigy"):
        assert (study / f"{figure}.png").read_bytes()[:4] == b"\x89PNG"
        assert f"({figure}.png)" in md

    summary = strict_json(study / "report.json")
    assert verdicts(summary) == {
        ("curriculum", "direct"): "does not hold",  # level with direct at the end
        ("childhood/slow", "direct"): "holds",  # the planted late advantage
        ("childhood/null", "direct"): "does not hold",  # the null
        ("childhood/slow", "curriculum"): "holds",
        ("childhood/null", "curriculum"): "does not hold"}
    for c in summary["comparisons"]:
        assert c["verdict"] in stats.VERDICTS and c["verdict"] == c["paired"]["verdict"]
        assert PAIRED_KEYS <= set(c["paired"]) and c["paired"]["family_size"] == 5
        assert c["paired"]["margin"] is None  # a return: no equivalence margin
        assert c["paired"]["p_adjusted"] >= c["paired"]["p_greater"]
        assert "signature" not in c and "pvalue_holm" not in c
    slow = next(c for c in summary["comparisons"] if (c["a"], c["b"]) == ("childhood/slow", "direct"))
    assert slow["paired"]["p_greater"] == 1 / 1024 and slow["paired"]["p_adjusted"] == 5 / 1024
    assert slow["paired"]["interval"]["low"] > 0
    assert slow["early"]["mean"] < 0 and slow["early_direction"] == "worse early"  # slow child
    assert slow["descriptive"]["early_poi"]["poi"] < 0.2  # rliable's PoI, kept as description
    # the planted crossover: the slow child overtakes direct after its childhood (40% of budget)
    assert 40_000 < slow["descriptive"]["crossover"]["median"] < 80_000
    assert summary["inference"]["family_size"] == 5
    assert summary["inference"]["rule_order"][:3] == [stats.FLOOR, stats.CEILING, stats.INCONCLUSIVE]
    rho = summary["prodigy"]["rho"]
    assert rho["rho"] > 0.8 and rho["n_configs"] == 6 and rho["ci_low"] is not None
    assert rho["p_value"] <= 0.01 and "still_rising" in summary["prodigy"]["plateau"]
    # direct_adult_steps is scored over its own (adult-only) budget
    ref = next(a for a in summary["arms"] if a["arm"] == "direct_adult_steps")
    assert ref["final"]["estimate"] is not None
    assert {row["arm"] for row in summary["sunk_cost"]} == {"curriculum", "childhood/slow",
                                                            "childhood/null"}
    table = report.comparison_table(summary["comparisons"])
    assert len(table) == 5 and (table["verdict"] == "holds").sum() == 2


def test_retention_and_drift_are_summarised_and_paired_against_direct(make_study):
    study = make_study(seeds=6)
    md = report.write_report(study, resamples=RESAMPLES).read_text()
    assert "## Retention and drift" in md and "not in the verdict family" in md
    retention = strict_json(study / "report.json")["retention"]
    rows = {(r["arm"], r["split"]): r for r in retention["summaries"]}
    assert {split for _, split in rows} == {"turn", "goto"}
    assert rows["direct", "turn"]["policy_kl"] is None  # direct has no childhood to drift from
    assert rows["childhood/slow", "turn"]["policy_kl"]["estimate"] > 0
    versus = {(r["arm"], r["split"]): r for r in retention["vs_direct"]}
    assert set(versus) == {(a, s) for a in ("curriculum", "childhood/slow", "childhood/null")
                           for s in ("turn", "goto")}
    turn = versus["childhood/slow", "turn"]
    assert turn["reference"] == "direct" and turn["difference"]["n"] == 6
    assert turn["difference"]["interval"]["low"] > 0  # planted: learnt in childhood, partly kept


def test_two_seeds_are_inconclusive_except_a_pair_at_the_floor(make_study):
    study = make_study(arms=("direct", "curriculum", "childhood/slow", "childhood/null"), seeds=2,
                       score_metric="success", zero_arms=("direct", "curriculum"), grid_configs=3)
    md = report.write_report(study, resamples=50).read_text()
    summary = strict_json(study / "report.json")
    found = verdicts(summary)
    assert found.pop(("curriculum", "direct")) == stats.FLOOR  # both 0 throughout
    assert set(found.values()) == {stats.INCONCLUSIVE}
    assert "Smoke test only" in md and stats.INCONCLUSIVE in md
    assert "The adult task is not calibrated for this budget" in md  # direct scores 0
    assert not POINT_INTERVAL.search(md) and "(CI n/a)" in md
    for c in summary["comparisons"]:  # 2 seeds: no 95% interval of any kind
        assert c["paired"]["interval"]["low"] is None
        assert c["descriptive"]["final_a"]["ci_low"] is None
    # D:prodigy below 5 configurations: rho and its permutation p, no interval
    rho = summary["prodigy"]["rho"]
    assert rho["n_configs"] == 3 and rho["ci_low"] is None and "at least 5" in rho["reason"]
    assert "95% CI n/a: 3 configurations" in md


def test_the_verdict_uses_the_pairing_by_seed(make_study):
    # seed s shifts every arm's score alike: the unpaired PoI's interval straddles 0.5, while the
    # paired differences are untouched and the planted advantage holds
    study = make_study(arms=("direct", "childhood/slow"), seeds=10, seed_effect=1.0,
                       prodigy_grid=False, drift=False, retention=False)
    analysis = report.analyse(report.load_study(study), resamples=RESAMPLES)
    (slow,) = analysis.comparisons
    assert slow.verdict == stats.HOLDS and slow.paired.p_greater == 1 / 1024
    assert slow.descriptive.final_poi.ci_low < 0.5


def test_an_older_study_json_reads_population_as_the_grid(make_study):
    path = make_study(arms=("direct",), seeds=2, retention=False, drift=False)
    meta = json.loads((path / "study.json").read_text())
    meta["population"] = meta.pop("prodigy_grid")
    for arm in meta["arms"]:
        arm["kind"] = "population" if arm["kind"] == "grid" else arm["kind"]
    (path / "study.json").write_text(json.dumps(meta))
    study = report.load_study(path)
    assert study.meta["prodigy_grid"] == meta["population"]
    assert len(study.arms_of_kind("grid")) == 6
    assert report.analyse(study, resamples=20).prodigy.rho.n_configs == 6


def test_few_seeds_are_called_a_smoke_test(make_study):
    study = make_study(arms=("direct", "childhood/slow"), seeds=3, prodigy_grid=False,
                       retention=False, drift=False)
    md = report.write_report(study, resamples=50).read_text()
    assert "Smoke test only" in md and "3 seed(s)" in md
    assert "No D:prodigy grid in this study." in md


@pytest.mark.parametrize("arms", [("direct",), ("direct", "childhood/slow"),
                                  ("childhood/slow", "direct_adult_steps")])
def test_report_survives_missing_arms_and_metrics(make_study, arms):
    study = make_study(arms=arms, seeds=1, prodigy_grid=False, drift=False, retention=False)
    md = report.write_report(study, resamples=20).read_text()
    assert (study / "learning_curves.png").exists()
    assert not (study / "policy_drift.png").exists() and not (study / "prodigy.png").exists()
    assert "policy drift: no data in this study." in md
    if "direct" not in arms:
        assert "No comparisons" in md
    if "direct_adult_steps" not in arms:
        assert "no `direct_adult_steps` arm" in md
    strict_json(study / "report.json")


def test_success_metric_and_a_grid_only_study(make_study):
    study = make_study(arms=("direct", "curriculum"), seeds=4, score_metric="success",
                       retention=False)
    md = report.write_report(study, resamples=RESAMPLES).read_text()
    assert "`success` on the adult split" in md
    assert "not calibrated" not in md  # direct ends near 0.6
    assert "Spearman's rho" in md
    loaded = report.load_study(study)
    steps, curves, seeds = report.score_curves(loaded, "direct")
    assert curves.shape == (4, steps.size) and curves.max() <= 1.0
    only_grid = make_study("grid_only", arms=(), seeds=2)
    md = report.write_report(only_grid, resamples=20).read_text()
    assert "No comparisons" in md and (only_grid / "prodigy.png").exists()


def test_env_steps_outside_the_budget_are_reported(make_study):
    import pandas as pd

    path = make_study(arms=("direct", "childhood/slow"), seeds=3, prodigy_grid=False,
                      retention=False, drift=False)
    table = pd.read_csv(path / "results.csv")
    # Plant a manager's cumulative count: seed s of childhood/slow ends at 1,000 * (s + 1).
    extra = [("childhood/slow", s, "adult", step, "train", "uncharged_env_steps", 1000.0 * (s + 1) * step / 100)
             for s in range(3) for step in (50, 100)]
    table = pd.concat([table, pd.DataFrame(extra, columns=table.columns)], ignore_index=True)
    table.to_csv(path / "results.csv", index=False)
    assert report.uncharged_env_steps(report.load_study(path)) == {"childhood/slow": 2000.0}  # mean of 1k, 2k, 3k
    md = report.write_report(path, resamples=50).read_text()
    assert "outside the budget" in md and "`childhood/slow` 2,000" in md
    assert strict_json(path / "report.json")["uncharged_env_steps"] == {"childhood/slow": 2000.0}


def test_compile_time_and_peak_memory_per_run(make_study):
    path = make_study(arms=("direct", "childhood/slow"), seeds=3, prodigy_grid=False, retention=False, drift=False)
    meta = json.loads((path / "study.json").read_text())
    for arm in meta["arms"]:
        arm["run"] = arm["name"].replace("/", "-")
    meta["config"]["backend"] = "cpu"
    (path / "study.json").write_text(json.dumps(meta))
    md = report.write_report(path, resamples=50).read_text()
    assert "No timing in this results directory" in md  # a table without timing still reports

    (path / "timing").mkdir()
    common = {"train_s": 20.0, "eval_s": 3.0, "compile_and_first_chunk_s": 15.0, "devices": 1, "processes": 1,
              "batch": 3, "padded_batch": 3, "persistent_cache_hits": 0}
    (path / "timing" / "direct.json").write_text(json.dumps(
        {**common, "compile_s": 12.5, "seed_chunk": None, "peak_device_memory_bytes": None}))
    (path / "timing" / "childhood-slow.json").write_text(json.dumps(
        {**common, "compile_s": 0.5, "seed_chunk": 2, "peak_device_memory_bytes": 3 * 2**30}))
    md = report.write_report(path, resamples=50).read_text()
    assert "## Compute" in md
    assert "| `direct` | 1 | 12.5 | 15.0 | 20.0 | 3.0 | 1 | all seeds | n/a on CPU |" in md
    assert "| `childhood-slow` | 1 | 0.5 | 15.0 | 20.0 | 3.0 | 1 | 2 | 3.0 GiB |" in md
    assert "Compiling, all runs: 13.0 s." in md
    runs = strict_json(path / "report.json")["compute"]
    assert [r["run"] for r in runs] == ["direct", "childhood-slow"]
    assert runs[0]["arms"] == ["direct"] and runs[1]["peak_device_memory_bytes"] == 3 * 2**30


def test_analysis_is_typed_and_its_results_make_dataframes(make_study):
    path = make_study(seeds=4)
    analysis = report.analyse(report.load_study(path), resamples=50)
    assert all(isinstance(c, report.Comparison) for c in analysis.comparisons)
    slow = next(c for c in analysis.comparisons if (c.a, c.b) == ("childhood/slow", "direct"))
    assert isinstance(slow.descriptive.final_poi, report.PoI) and slow.descriptive.final_poi.poi > 0.9
    assert slow.verdict == stats.INCONCLUSIVE and slow.paired.p_greater <= slow.paired.p_adjusted
    assert isinstance(slow.paired, stats.Verdict) and slow.paired.n == 4
    assert analysis.inference.family_size == 5 and analysis.smoke_test

    comparisons = report.to_frame(analysis.comparisons)
    assert list(comparisons["A"]) == [c.a for c in analysis.comparisons]
    assert list(comparisons.columns[:4]) == ["A", "B", "verdict", "paired seeds"]
    assert comparisons.loc[comparisons["A"] == "childhood/slow", "final PoI"].min() > 0.9
    arms = report.to_frame(analysis.arms)
    assert list(arms.columns[:4]) == ["arm", "kind", "budget", "parameters"]
    assert arms.set_index("arm").loc["direct_adult_steps", "budget"] == 60_000
    assert arms["final low"].isna().all()  # 4 seeds: no bootstrap interval
    assert set(report.to_frame(analysis.sunk_cost)["arm"]) == {"curriculum", "childhood/slow",
                                                               "childhood/null"}
    configs = report.to_frame(analysis.prodigy.configs)
    assert len(configs) == 6 and {"lr", "ent", "early IQM", "final IQM",
                                  "final-window rise"} <= set(configs.columns)
    retention = report.to_frame(analysis.retention.summaries)
    assert {"arm", "split", "final IQM", "policy KL"} <= set(retention.columns)
    assert len(report.to_frame(analysis.retention.vs_direct)) == 6
    assert len(report.to_frame(analysis.compute)) == 0  # no timing in a synthetic study

    # report.json is the analysis's to_json, and its comparisons read back into the same table
    report.write_report(path, resamples=50)
    summary = strict_json(path / "report.json")
    assert {k: v for k, v in summary.items() if k != "figures"} == \
        json.loads(json.dumps(analysis.to_json()))
    assert report.comparison_table(summary["comparisons"]).equals(comparisons)


def test_figures_draw_on_the_axes_they_are_given(make_study, tmp_path):
    from matplotlib.figure import Figure

    path = make_study(seeds=3)
    study = report.load_study(path)
    figure = Figure()
    ax = figure.subplots()
    assert report.plot_learning_curves(study, ax=ax) is figure
    assert len(ax.lines) >= 5 and "IQM over seeds" in ax.get_title()
    panels = Figure().subplots(1, 2)
    prodigy = report.prodigy(study, resamples=20)
    assert report.plot_prodigy(study, prodigy, axes=panels) is panels[0].figure
    assert "Spearman rho" in panels[1].get_title()
    with pytest.raises(ValueError, match="2 panel"):
        report.plot_retention(study, axes=[Figure().subplots()])  # two childhood stages
    own = report.plot_policy_drift(study)  # no Axes given: a new figure, one panel per arm
    assert len(own.axes) == len(report.figures.drift_arms(study))
    assert sorted(p.name for p in path.iterdir()) == ["results.csv", "study.json"]  # no files


def test_importing_the_report_loads_neither_pandas_nor_matplotlib():
    import subprocess
    import sys

    code = ("import sys, bootstrap_rl.report as r; r.write_report; "
            "assert not {'pandas', 'matplotlib'} & set(sys.modules), sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)
