"""benchmarks/baselines.py: the env steps at which a learning curve first reaches each level."""

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import baselines  # noqa: E402


def test_success_levels_are_absolute_and_never_reached_is_none():
    steps = np.array([0, 10, 20, 30])
    assert baselines.steps_to_levels(steps, np.array([0.0, 0.3, 0.6, 0.8]), True) == {
        "25%": 10, "50%": 20, "75%": 30}
    assert baselines.steps_to_levels(steps, np.array([0.0, 0.1, 0.3, 0.2]), True) == {
        "25%": 20, "50%": None, "75%": None}


def test_return_levels_are_fractions_of_the_way_from_the_first_value_to_the_best():
    steps = np.array([0, 10, 20, 30])
    # From -10 to 0: 25% is -7.5 (reached at 10 by -5), 50% is -5 (at 10), 75% is -2.5 (at 20 by -2).
    assert baselines.steps_to_levels(steps, np.array([-10.0, -5.0, -2.0, 0.0]), False) == {
        "25%": 10, "50%": 10, "75%": 20}
    # A curve that never improves reaches no level.
    assert baselines.steps_to_levels(steps, np.array([-1.0, -2.0, -3.0, -4.0]), False) == {
        "25%": None, "50%": None, "75%": None}


def test_a_run_replaces_the_rows_it_measured_and_keeps_the_others(tmp_path):
    """Limbs measured after Playroom: Playroom's rows stay, with the old file's budget; a kind
    measured again is replaced, and the rows come in the families' order."""
    old = {"budget": 100, "every": 10, "episodes": 4, "device": "cpu", "jax": "0", "date": "d",
           "results": [{"family": "playroom", "kind": "goto", "final_iqm": 0.5},
                       {"family": "limbs", "kind": "reach", "final_iqm": 1.0}]}
    path = tmp_path / "baselines.json"
    path.write_text(json.dumps(old))
    rows = [{"family": "limbs", "kind": "reach", "final_iqm": 2.0, "budget": 200},
            {"family": "limbs", "kind": "babble", "final_iqm": 3.0, "budget": 200}]
    merged = baselines.merge_rows(path, rows)
    assert [(r["family"], r["kind"]) for r in merged] == [("playroom", "goto"), ("limbs", "babble"), ("limbs", "reach")]
    assert merged[0]["budget"] == 100 and merged[0]["final_iqm"] == 0.5
    assert merged[2]["final_iqm"] == 2.0 and merged[2]["budget"] == 200
    assert baselines.merge_rows(tmp_path / "absent.json", rows[:1]) == rows[:1]
