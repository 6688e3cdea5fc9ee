"""PPO learns Playroom goto to >= 0.9 success (issue 3). Slow: benchmarks/playroom_goto.py covers it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "playroom_goto.py"


def load_benchmark():
    spec = importlib.util.spec_from_file_location("playroom_goto_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_ppo_learns_goto_to_point_nine():
    benchmark = load_benchmark()
    report = benchmark.run(benchmark.CONFIG, num_seeds=4, episodes=256)
    assert report["success_iqm"]["iqm"] >= 0.9, report["success_per_seed"]
    assert report["success_mean"] >= 0.9, report["success_per_seed"]
