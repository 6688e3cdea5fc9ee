"""PPO learns Limbs reach to a mean final distance under 5% of the arm's length (issue 6).

Slow: benchmarks/limbs_reach.py covers it (and its README section reports steps and time)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "limbs_reach.py"


def load_benchmark():
    spec = importlib.util.spec_from_file_location("limbs_reach_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_ppo_learns_reach_to_five_percent_of_the_arm():
    benchmark = load_benchmark()
    report = benchmark.run()  # the benchmark's own run: its config, seeds and episodes
    assert report["final_distance_greedy_mean"] < 0.05, report["final_distance_greedy_per_seed"]
    assert report["final_distance_sampled_mean"] < 0.05, report["final_distance_sampled_per_seed"]
