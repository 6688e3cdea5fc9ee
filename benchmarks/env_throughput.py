"""Random-policy environment throughput: env-steps/s against the number of parallel envs.

Every Playroom task kind, and every MiniGrid kind (XLand-MiniGrid, ``envs/minigrid.py``),
runs beside gymnax's CartPole-v1 and Breakout-MinAtar in the same process, measured the same way: one jitted ``lax.scan`` of ``vmap(env.step)`` with uniform
random actions, per-env step keys and gymnax auto-reset, whose carry accumulates
``obs.sum() + reward.sum()`` so XLA cannot drop the work of computing observations. Playroom
envs each get their own task, sampled from the kind's sampler (as a curriculum stage would);
all kinds share one compiled step. MiniGrid's kinds likewise share one compiled step (its
auto-reset evaluates every kind's layout generator under vmap, which is part of its cost). Reset and compile time are excluded; the figure is the
best of ``--repeats`` timed calls (the least disturbed by other load).

    python benchmarks/env_throughput.py                 # CPU or GPU default sizes
    python benchmarks/env_throughput.py --num-envs 1 64 --quick

Writes ``benchmarks/results/env_throughput_<backend>_<device>.json`` and refreshes the
table between the env-throughput markers in ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

import jax

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"
START, END = "<!-- env-throughput:start -->", "<!-- env-throughput:end -->"
sys.path.insert(0, str(HERE))
from _common import device_name, replace_device_block, slug  # noqa: E402
import _rollout  # noqa: E402
from _rollout import DEFAULT_NUM_ENVS, measure, steps_per_call  # noqa: E402


def device_label() -> tuple[str, str]:
    return jax.default_backend(), device_name(cpu="{processor} ({devices} device, {cores} cores)", accelerator="{kind}")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-envs", type=int, nargs="+", help="env counts (default by backend)")
    parser.add_argument("--kinds", nargs="+", help="Playroom task kinds (default: all)")
    parser.add_argument("--minigrid-kinds", nargs="*", help="MiniGrid task kinds (default: all; none: skip)")
    parser.add_argument("--steps-per-call", type=int, default=None,
                        help="env steps per env per timed call (default: ~2^19 / num_envs on CPU)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="fewer steps; numbers are noisier")
    parser.add_argument("--no-readme", action="store_true", help="do not rewrite benchmarks/README.md")
    args = parser.parse_args(argv)

    from bootstrap_rl.envs import minigrid, playroom
    from bootstrap_rl.registry import make

    backend, device = device_label()
    sizes = args.num_envs or DEFAULT_NUM_ENVS["cpu" if backend == "cpu" else "gpu"]
    kinds = args.kinds or list(playroom.TASK_KINDS)
    budget = (2**17 if args.quick else 2**19) * (1 if backend == "cpu" else 64)

    minigrid_kinds = minigrid.TASK_KINDS if args.minigrid_kinds is None else args.minigrid_kinds
    playroom_env = playroom.Playroom("goto")  # one instance: every kind shares its compiled step
    minigrid_env = minigrid.MiniGrid()  # likewise
    subjects = [(name, *make(name), False) for name in ("CartPole-v1", "Breakout-MinAtar")]
    rows = []
    for num_envs in sizes:
        num_steps = args.steps_per_call or steps_per_call(budget, num_envs)
        for name, env, params, batched in subjects:
            result = measure(env, params, num_envs, num_steps, args.repeats, batched)
            rows.append({"env": name, **result})
            print(f"{name:>22} {num_envs:>7} envs: {result['steps_per_s']:.3e} steps/s", flush=True)
        for kind in kinds:
            keys = jax.random.split(jax.random.key(1), num_envs)
            params = jax.vmap(playroom.TASK_SAMPLERS[kind])(keys)
            result = measure(playroom_env, params, num_envs, num_steps, args.repeats, True)
            name = playroom.ENV_IDS[kind]
            rows.append({"env": name, **result})
            print(f"{name:>22} {num_envs:>7} envs: {result['steps_per_s']:.3e} steps/s", flush=True)
        for kind in minigrid_kinds:
            params = jax.vmap(minigrid.task_distribution(kind))(jax.random.split(jax.random.key(1), num_envs))
            result = measure(minigrid_env, params, num_envs, num_steps, args.repeats, True)
            name = minigrid.ENV_IDS[kind]
            rows.append({"env": name, **result})
            print(f"{name:>22} {num_envs:>7} envs: {result['steps_per_s']:.3e} steps/s", flush=True)

    report = {
        "benchmark": "env_throughput",
        "backend": backend,
        "device": device,
        "jax_version": jax.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "policy": "uniform random",
        "observation": "consumed (sum accumulated in the scan carry)",
        "repeats": args.repeats,
        "results": rows,
    }
    out = HERE / "results" / f"env_throughput_{backend}_{_slug(device)}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out.relative_to(HERE.parent)}")
    if not args.no_readme:
        update_readme(report, out)
    return report


def _slug(text: str) -> str:
    return slug(text)[:60]


def table(report: dict) -> str:
    """Markdown table: one row per env, one column per number of envs; then Playroom's speed
    relative to Breakout-MinAtar's."""
    lines = [_rollout.table(report["results"])]
    for family in ("Playroom", "MiniGrid"):
        ratios = _rollout.ratios(report["results"], family, "Breakout-MinAtar")
        if ratios:
            lines.append("")
            lines.append(f"{family} / Breakout-MinAtar (slowest–fastest kind), by number of envs: {ratios}.")
    return "\n".join(lines)


def update_readme(report: dict, json_path: Path) -> None:
    """Replace (or add) this device's table inside the env-throughput section of the README."""
    block_id = f"{report['backend']}: {report['device']}"
    block = (
        f"<!-- env-throughput:{_slug(block_id)} -->\n"
        f"**{block_id}**, jax {report['jax_version']}, {report['date'][:10]}; env-steps/s, random policy, "
        f"observation consumed; raw: `{json_path.relative_to(HERE.parent)}`.\n\n{table(report)}\n"
        f"<!-- /env-throughput:{_slug(block_id)} -->"
    )
    replace_device_block(README, START, END, "## Env throughput", f"env-throughput:{_slug(block_id)}", block)


if __name__ == "__main__":
    main()
