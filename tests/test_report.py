"""The study report on synthetic results directories with planted effects (tests/conftest.py)."""

import json

import pytest

from bootstrap_rl import report

RESAMPLES = 200  # enough for the planted effects; keeps the suite fast


def strict_json(path):
    def no_nan(name):
        raise ValueError(f"non-standard JSON constant {name}")
    return json.loads(path.read_text(), parse_constant=no_nan)


def test_report_finds_the_planted_signature_and_not_the_null(make_study):
    study = make_study(seeds=10)
    md = report.write_report(study, resamples=RESAMPLES).read_text()
    assert "`childhood/slow` vs `direct`: the slow child, strong adult signature **holds**" in md
    assert "`childhood/null` vs `direct`: the slow child, strong adult signature **does not hold**" in md
    assert "Smoke test" not in md  # 10 seeds
    for figure in ("learning_curves", "sunk_cost", "retention", "policy_drift", "prodigy"):
        assert (study / f"{figure}.png").read_bytes()[:4] == b"\x89PNG"
        assert f"({figure}.png)" in md

    summary = strict_json(study / "report.json")
    by_pair = {(c["a"], c["b"]): c for c in summary["comparisons"]}
    assert set(by_pair) == {("curriculum", "direct"), ("childhood/slow", "direct"),
                            ("childhood/null", "direct"), ("childhood/slow", "curriculum"),
                            ("childhood/null", "curriculum")}
    slow, null = by_pair["childhood/slow", "direct"], by_pair["childhood/null", "direct"]
    assert slow["signature"] and not null["signature"]
    assert slow["early_poi"]["poi"] < 0.2 and slow["final_poi"]["ci_low"] > 0.8
    assert slow["pvalue_holm"] < 0.01 < null["pvalue_holm"]
    for c in summary["comparisons"]:
        assert c["pvalue_holm"] >= c["pvalue"]
    # the planted crossover: the slow child overtakes direct after its childhood (40% of budget)
    assert 40_000 < slow["crossover"]["median"] < 80_000
    assert summary["prodigy"]["rho"]["rho"] > 0.8  # planted: better early, better late
    assert summary["prodigy"]["rho"]["n_configs"] == 6
    # direct_adult_steps is scored over its own (adult-only) budget
    ref = next(a for a in summary["arms"] if a["arm"] == "direct_adult_steps")
    assert ref["final"]["estimate"] is not None
    assert {row["arm"] for row in summary["sunk_cost"]} == {"curriculum", "childhood/slow",
                                                            "childhood/null"}
    table = report.comparison_table(summary["comparisons"])
    assert len(table) == 5 and table["slow child, strong adult"].sum() == 2


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
    assert isinstance(slow.final_poi, report.PoI) and slow.final_poi.poi > 0.9
    assert slow.pvalue <= slow.pvalue_holm

    comparisons = report.to_frame(analysis.comparisons)
    assert list(comparisons["A"]) == [c.a for c in analysis.comparisons]
    assert comparisons.loc[comparisons["A"] == "childhood/slow", "final PoI"].min() > 0.9
    arms = report.to_frame(analysis.arms)
    assert list(arms.columns[:4]) == ["arm", "kind", "budget", "parameters"]
    assert arms.set_index("arm").loc["direct_adult_steps", "budget"] == 60_000
    assert set(report.to_frame(analysis.sunk_cost)["arm"]) == {"curriculum", "childhood/slow",
                                                               "childhood/null"}
    configs = report.to_frame(analysis.prodigy.configs)
    assert len(configs) == 6 and {"lr", "ent", "early IQM", "final IQM"} <= set(configs.columns)
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
