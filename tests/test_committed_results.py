"""The studies committed under results/: what the README's Results section cites.

Each must regenerate its report.md byte for byte from its committed files (study.json,
results.csv, timing/), so a change to the statistics or the report's wording that would alter a
published number shows here, and the committed results are regenerated with it
(`bootstrap-rl report results/<name>`).
"""

import json
from pathlib import Path

import pytest

RESULTS = Path(__file__).parents[1] / "results"
STUDIES = sorted(path for path in RESULTS.glob("*") if (path / "study.json").exists())


def test_results_holds_at_least_two_studies_with_ten_seeds():
    seeds = {path.name: json.loads((path / "study.json").read_text())["seeds"] for path in STUDIES}
    assert sum(n >= 10 for n in seeds.values()) >= 2, seeds


@pytest.mark.parametrize("study", STUDIES, ids=lambda path: path.name)
def test_committed_report_regenerates_byte_for_byte(study):
    from bootstrap_rl.report import markdown
    from bootstrap_rl.report.analysis import analyse
    from bootstrap_rl.report.load import load_study

    # The figures as committed (report.json names them), in the report's order; drawing them
    # again is `bootstrap-rl report`'s job and changes no word of report.md.
    names = json.loads((study / "report.json").read_text())["figures"]
    figures = {key: (study / names[key] if names[key] else None) for key in markdown.CAPTIONS if key in names}
    for name in filter(None, names.values()):
        assert (study / name).exists(), f"{study.name}: report.md shows {name}, which is not committed"
    text = markdown.render(analyse(load_study(study)), figures)
    assert text == (study / "report.md").read_text(), (
        f"{study.name}/report.md no longer regenerates: run `bootstrap-rl report results/{study.name}`")
