"""Limbs environment throughput beside gymnax Pendulum-v1: random-policy env-steps/s.

Measured exactly as ``env_throughput.py`` measures Playroom: one jitted ``lax.scan`` of
``vmap(env.step)`` with uniform random actions over the ``Box`` (Limbs ``[-1, 1]^3``,
Pendulum ``[-2, 2]``), a fresh key per env per step and gymnax auto-reset; the scan carry
accumulates ``obs.sum() + reward.sum()`` so XLA cannot drop the work of computing
observations. Each Limbs kind's envs get their own task from the kind's sampler (all kinds
share one compiled step); the last Limbs row runs ``TaskSamplingEnv(Limbs, all kinds)``, a
fresh task from the five-kind mixture at every episode start, as a curriculum stage trains.
Reset and compile time are excluded; each figure is the best of ``--repeats`` calls.

    python benchmarks/limbs_throughput.py                  # 1, 64, 1024, 4096 envs on a CPU
    python benchmarks/limbs_throughput.py --num-envs 64 --repeats 3 --no-readme

Writes ``benchmarks/results/limbs_throughput_<backend>.json`` and the section between the
limbs-throughput markers in ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

import jax

import bootstrap_rl
from bootstrap_rl.results import replace_section, write_text

HERE = Path(__file__).resolve().parent
START, END = "<!-- limbs-throughput:start -->", "<!-- limbs-throughput:end -->"
sys.path.insert(0, str(HERE))
import _rollout  # noqa: E402
from _common import device_name  # noqa: E402
from _rollout import DEFAULT_NUM_ENVS, measure, steps_per_call  # noqa: E402


def section(report: dict, json_path: str) -> str:
    return "\n".join([
        START,
        "## Limbs env throughput beside Pendulum-v1",
        "",
        "`python benchmarks/limbs_throughput.py` measures random-policy env-steps/s of every Limbs "
        "task kind (3 links; each env its own task from the kind's sampler; all kinds one compiled "
        "step) and of `TaskSamplingEnv` over the five-kind mixture (a fresh task per episode), with "
        "gymnax `Pendulum-v1` as the reference in the same run, measured as the env throughput "
        "table above: a jitted scan of `vmap(env.step)`, uniform random actions in the Box, "
        "gymnax auto-reset, the observation consumed; best of "
        f"{report['repeats']} calls, compile and reset excluded.",
        "",
        f"**{report['device']}**, jax {report['jax']}, {report['date']}; raw: `{json_path}`.",
        "",
        _rollout.table(report["results"]),
        "",
        "Limbs / Pendulum-v1 (slowest–fastest row), by number of envs: "
        + _rollout.ratios(report["results"], "Limbs", "Pendulum-v1") + ".",
        END,
    ])


def update_readme(report: dict, json_path: str) -> None:
    replace_section(HERE / "README.md", START, END, section(report, json_path), new_file="# Benchmarks\n")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-envs", type=int, nargs="+", help="env counts (default by backend)")
    parser.add_argument("--steps-per-call", type=int, default=None,
                        help="env steps per env per timed call (default: ~2^19 / num_envs on a CPU)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-readme", action="store_true", help="do not rewrite benchmarks/README.md")
    args = parser.parse_args(argv)

    from bootstrap_rl.envs import limbs
    from bootstrap_rl.wrappers import TaskSamplingEnv

    backend = jax.default_backend()
    sizes = args.num_envs or DEFAULT_NUM_ENVS["cpu" if backend == "cpu" else "gpu"]
    budget = 2**19 * (1 if backend == "cpu" else 64)
    pendulum, pendulum_params = bootstrap_rl.make("Pendulum-v1")
    arm = limbs.Limbs("reach")  # one instance: every kind shares its compiled step
    mixture = TaskSamplingEnv(arm, limbs.task_distribution(limbs.TASK_KINDS))
    rows = []

    def record(name, result):
        rows.append({"env": name, **result})
        print(f"{name:>32} {result['num_envs']:>7} envs: {result['steps_per_s']:.3e} steps/s", flush=True)

    for num_envs in sizes:
        num_steps = args.steps_per_call or steps_per_call(budget, num_envs)
        record("Pendulum-v1", measure(pendulum, pendulum_params, num_envs, num_steps, args.repeats, False))
        for kind in limbs.TASK_KINDS:
            params = jax.vmap(limbs.TASK_SAMPLERS[kind])(jax.random.split(jax.random.key(1), num_envs))
            record(limbs.ENV_IDS[kind], measure(arm, params, num_envs, num_steps, args.repeats, True))
        record("Limbs mixture (TaskSamplingEnv)",
               measure(mixture, mixture.default_params, num_envs, num_steps, args.repeats, False))

    report = {
        "benchmark": "limbs_throughput",
        "backend": backend,
        "device": device_name(),
        "jax": jax.__version__,
        "date": datetime.date.today().isoformat(),
        "command": "python benchmarks/limbs_throughput.py " + " ".join(argv or []),
        "policy": "uniform random over the action Box",
        "observation": "consumed (sum accumulated in the scan carry)",
        "repeats": args.repeats,
        "results": rows,
    }
    out = HERE / "results" / f"limbs_throughput_{backend}.json"
    write_text(out, json.dumps(report, indent=1) + "\n")
    if not args.no_readme:
        update_readme(report, out.relative_to(HERE.parent).as_posix())
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
