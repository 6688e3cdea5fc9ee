"""Shared fixtures, and one persistent compilation cache for the whole test run.

The cache (a fresh temporary folder, removed at the end) is shared by the pytest-xdist workers
and by every subprocess a test starts (``JAX_COMPILATION_CACHE_DIR`` in the environment), and
is the folder the API's default cache resolves to (``BOOTSTRAP_RL_COMPILATION_CACHE``), so a
test run never writes to ``~/.cache``. A program that two tests compile alike is compiled once.

``make_study_dir`` writes a synthetic study results directory (``study.json`` + ``results.csv``,
the format the study runner writes) with planted effects, so the report, the statistics and
the notebook can be tested without training anything:

- ``childhood/slow``: worse than ``direct`` early (its childhood does not train the adult
  task), clearly better late: a planted late advantage (its verdict over direct holds).
- ``childhood/null``: the same distribution as ``direct``: the null.
- ``curriculum``: a head start on the adult stage, plateauing level with ``direct``.
- ``direct_adult_steps``: the direct curve over the adult steps only.
- D:prodigy grid configurations whose early and final scores rise with one hidden quality
  (planted positive prodigy rho); ``grid_configs`` keeps the first k of the 6.
- ``zero_arms``: arms whose adult score is 0 throughout (a pair of them: no signal, floor).
- ``seed_effect``: the sd of an offset that seed s adds to every arm's adult score (common
  random numbers: seed s of every arm shares its network and evaluation episodes); 0 by
  default.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

_CACHE_OWNER = "BOOTSTRAP_RL_TEST_CACHE_OWNER"  # the pid of the process that made the folder

# XLA:CPU's older (non-MLIR) fusion emitters compile the suite's small programs 2-3x faster
# (a toy PPO update 1.3 s -> 0.5 s; an eager op 50 -> 30 ms; the whole run 6:54 -> 4:14 on the
# 2-core CPU). Only the code generated differs, so floats may differ in the last bits from a
# default build; no test compares against numbers computed outside the run.
FAST_COMPILE_XLA_FLAGS = "--xla_cpu_use_fusion_emitters=false"


def _xla_accepts(flags: str) -> bool:
    """XLA aborts the process on a flag it does not know: try it in a subprocess first (a jaxlib
    without these emitters then runs the suite with its defaults, only slower). The probe makes
    jaxlib's CPU client directly (0.2 s; importing jax would take 1.5 s): should that private
    call ever change, it fails, and the suite again runs with the defaults."""
    probe = "import jaxlib._jax as xla; xla.get_tfrt_cpu_client(asynchronous=True)"
    env = {**os.environ, "XLA_FLAGS": f"{flags} {os.environ.get('XLA_FLAGS', '')}".strip()}
    try:
        return subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, timeout=60).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def pytest_configure(config):
    """Before any test module imports JAX (which reads these at import): the run's cache."""
    if "PYTEST_XDIST_WORKER" in os.environ:
        return  # a worker inherits the controller's environment
    folder = tempfile.mkdtemp(prefix="bootstrap-rl-tests-jax-cache-")
    os.environ.update({"JAX_COMPILATION_CACHE_DIR": folder, "BOOTSTRAP_RL_COMPILATION_CACHE": folder,
                       # Test programs are small: keep those that took 0.2 s or more to compile.
                       "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0.2", _CACHE_OWNER: str(os.getpid())})
    if _xla_accepts(FAST_COMPILE_XLA_FLAGS):
        # First: a value of the user's own, later in XLA_FLAGS, wins.
        os.environ["XLA_FLAGS"] = f"{FAST_COMPILE_XLA_FLAGS} {os.environ.get('XLA_FLAGS', '')}".strip()
    assert "jax" not in sys.modules, "JAX was imported before the test run's cache was set"


def pytest_unconfigure(config):
    if os.environ.get(_CACHE_OWNER) == str(os.getpid()):
        shutil.rmtree(os.environ["JAX_COMPILATION_CACHE_DIR"], ignore_errors=True)


# The files that take longest, longest first (ranked with --durations on the 2-core CPU): they
# are handed to the two workers first, so that the workers finish together (xdist hands whole
# files out in collection order with --no-loadscope-reorder).
LONGEST_FIRST = ("test_study.py", "test_sharding.py", "test_ued.py", "test_library.py", "test_minigrid.py",
                 "test_study_methods.py", "test_learner.py", "test_playroom.py", "test_cli.py", "test_wrappers.py",
                 "test_generation.py", "test_curriculum.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order


ALL_ARMS = ("direct", "curriculum", "childhood/slow", "childhood/null", "direct_adult_steps")
STAGES = ("turn", "goto", "treasure")  # two childhood stages, then the adult stage


def _adult_mean(kind: str, steps: np.ndarray, total: int, adult_start: int) -> np.ndarray:
    """Noise-free adult-split score in [0, 1] at each env step."""
    t = steps / total
    if kind in ("direct", "childhood/null"):
        return 0.6 * (1 - np.exp(-5 * t))
    if kind == "direct_adult_steps":
        return 0.6 * (1 - np.exp(-5 * t))  # the same learner, over fewer steps
    a = np.clip((steps - adult_start) / total, 0, None)
    if kind == "childhood/slow":
        return np.where(steps < adult_start, 0.05 * t, 0.05 * adult_start / total
                        + 0.85 * (1 - np.exp(-6 * a)))
    if kind == "curriculum":
        return np.where(steps < adult_start, 0.1 * t, 0.1 + 0.5 * (1 - np.exp(-6 * a)))
    raise ValueError(kind)


def make_study_dir(
    path: Path,
    *,
    arms=ALL_ARMS,
    seeds: int = 10,
    total_env_steps: int = 100_000,
    eval_every: int = 5_000,
    score_metric: str = "return",
    prodigy_grid: bool = True,
    grid_seeds: int = 4,
    drift: bool = True,
    retention: bool = True,
    noise: float = 0.04,
    seed: int = 0,
    zero_arms=(),
    seed_effect: float = 0.0,
    grid_configs: int | None = None,
) -> Path:
    """Write a synthetic study results directory at ``path`` and return ``path``.

    Scores are in [0, 1] for ``success`` and scaled by 100 for ``return``.
    """
    rng = np.random.default_rng(seed)
    shared = np.random.default_rng(seed + 1).normal(0, seed_effect, max(seeds, grid_seeds))
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    scale = 1.0 if score_metric == "success" else 100.0
    childhood_steps = int(0.4 * total_env_steps)  # 20% per childhood stage
    bounds = [0, int(0.2 * total_env_steps), childhood_steps, total_env_steps]
    rows: list[tuple] = []
    arm_meta = []

    def stage_list(budget, staged):
        if not staged:
            return [{"name": STAGES[-1], "start_env_steps": 0, "end_env_steps": budget}]
        return [{"name": s, "start_env_steps": bounds[i], "end_env_steps": bounds[i + 1]}
                for i, s in enumerate(STAGES)]

    def stage_at(stages, step):
        for s in stages:
            if step <= s["end_env_steps"]:
                return s["name"]
        return stages[-1]["name"]

    def add_rows(name, kind, n_seeds, budget, stages, adult_fn, staged):
        steps = np.arange(0, budget + 1, eval_every)
        for seed_index in range(n_seeds):
            adult = adult_fn(steps) + rng.normal(0, noise, steps.size) + shared[seed_index]
            if name in zero_arms:
                adult = np.zeros(steps.size)
            if score_metric == "success":
                adult = np.clip(adult, 0, 1)
            for j, step in enumerate(steps):
                stage = stage_at(stages, step)
                rows.append((name, seed_index, stage, step, STAGES[-1], score_metric,
                             adult[j] * scale))
                if score_metric == "success":
                    rows.append((name, seed_index, stage, step, STAGES[-1], "return",
                                 adult[j] * 100))
                rows.append((name, seed_index, stage, step, STAGES[-1], "length",
                             200 - 100 * adult[j]))
                if step > 0:
                    rows.append((name, seed_index, stage, step, "train", "episode_return",
                                 adult[j] * 100 + rng.normal(0, 2)))
                    rows.append((name, seed_index, stage, step, "train", "entropy",
                                 1.5 - step / budget))
                if retention:
                    for k, split in enumerate(STAGES[:-1]):
                        if staged:  # learnt during its stage, partly forgotten after
                            learnt = np.clip((step - bounds[k]) / (bounds[k + 1] - bounds[k]), 0, 1)
                            forgot = np.clip((step - bounds[k + 1]) / total_env_steps, 0, 1)
                            level = 0.9 * learnt * (1 - 0.5 * forgot)
                        else:
                            level = 0.3 * step / total_env_steps
                        value = np.clip(level + rng.normal(0, noise), 0, 1)
                        rows.append((name, seed_index, stage, step, split, score_metric,
                                     value * scale))
                if drift and staged:
                    for k, split in enumerate(STAGES[:-1]):
                        if step >= bounds[k + 1]:
                            kl = 0.5 * (step - bounds[k + 1]) / total_env_steps
                            rows.append((name, seed_index, stage, step, split, "policy_kl",
                                         abs(kl + rng.normal(0, 0.01))))

    for name in arms:
        kind = name.split("/")[0]
        staged = kind in ("curriculum", "childhood")
        budget = total_env_steps - childhood_steps if kind == "direct_adult_steps" else total_env_steps
        stages = stage_list(budget, staged)
        fn = (lambda s, name=name, kind=kind: _adult_mean(
            name if kind == "childhood" else kind, s,
            budget if kind == "direct_adult_steps" else total_env_steps, childhood_steps))
        add_rows(name, kind, seeds, budget, stages, fn, staged)
        arm_meta.append({"name": name, "kind": kind, "budget_env_steps": budget,
                         "param_count": 20_000 if kind != "childhood" else 26_000,
                         "stages": stages})

    grid = None
    if prodigy_grid:
        grid = {"lr": [1e-4, 3e-4, 1e-3], "ent": [0.0, 0.01], "width": [64]}
        quality = 0
        for lr in grid["lr"]:
            for ent in grid["ent"]:
                quality += 1
                if grid_configs is not None and quality > grid_configs:
                    continue
                q = quality / 6  # planted: both early and final scores rise with q
                name = f"grid/lr={lr},ent={ent},width=64"
                fn = lambda s, q=q: (0.2 + 0.7 * q) * (1 - np.exp(-(2 + 6 * q) * s / total_env_steps))
                add_rows(name, "grid", grid_seeds, total_env_steps,
                         stage_list(total_env_steps, False), fn, False)
                arm_meta.append({"name": name, "kind": "grid",
                                 "budget_env_steps": total_env_steps, "param_count": 20_000,
                                 "stages": stage_list(total_env_steps, False),
                                 "hparams": {"lr": lr, "ent": ent, "width": 64}})

    study = {
        "curriculum": "synthetic_ladder",
        "description": "Synthetic study with planted effects (test fixture).",
        "seeds": seeds, "root_seed": seed, "total_env_steps": total_env_steps,
        "eval_every": eval_every, "score_metric": score_metric, "adult_stage": STAGES[-1],
        "stages": list(STAGES), "arms": arm_meta,
        "prodigy_grid": {"grid": grid} if grid else None,
        "config": {"synthetic": True},
    }
    (path / "study.json").write_text(json.dumps(study, indent=2))
    import pandas as pd

    pd.DataFrame(rows, columns=["arm", "seed", "stage", "env_steps", "split", "metric", "value"]
                 ).to_csv(path / "results.csv", index=False)
    return path


@pytest.fixture(scope="module")
def quick_compiles():
    """XLA with most optimisations off for a module's programs: toy studies spend their time
    compiling (training is well under a second per run), and these compile in about half the
    time. Yields the environment a subprocess needs to compile the same programs (the same
    numbers, and hits in the run's compilation cache)."""
    import jax

    before = jax.config.read("jax_disable_most_optimizations")  # a flag, not a config attribute
    jax.config.update("jax_disable_most_optimizations", True)
    yield {"JAX_DISABLE_MOST_OPTIMIZATIONS": "1"}
    jax.config.update("jax_disable_most_optimizations", before)


@pytest.fixture
def make_study(tmp_path):
    """A factory: ``make_study(name="study", **kwargs)`` writes a synthetic study under tmp_path."""
    def factory(name: str = "study", **kwargs) -> Path:
        return make_study_dir(tmp_path / name, **kwargs)
    return factory
