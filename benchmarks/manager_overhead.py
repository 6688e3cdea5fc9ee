"""Each childhood arm's training throughput against the direct arm's, on one env and device.

For a curriculum (``playroom_ladder``'s ``quick`` preset by default), every run the study
would train is built as the study builds it (the same compiled learner per arm). For each, the
benchmark times one chunk of updates (an evaluation interval) and one stage start (where
managers allocate, generate or mix slots; an evolution strategy's rollouts happen there), each
arm right after the direct arm, ``--repeats`` times. An arm's env-steps/s is its budget over the
time of its chunks plus its stage starts (best of repeats)::

    arm env-steps/s = budget / (chunks x chunk time + first start + (stages - 1) x later start)

and its ratio to direct is the median over repeats of the ratio to the direct chunk timed just
before it (the 2-core CPU's speed drifts by more than the overheads measured; a pair a few
seconds apart sees the same machine). Evaluation is excluded (it is the same program for every
arm). Compile time (first chunk and first stage start) is reported beside. Issue 5's bar: every childhood arm >= 0.75x direct.

The automatic curricula (``ued/<kind>``, docs/ued.md) are timed in both of their stages: a chunk
of the childhood stage (levels drawn, scored, replayed or mutated; the buffer updated) and one of
the adult stage, each weighted by its share of the budget. Issue 19's bar: >= 0.75x direct.

    python benchmarks/manager_overhead.py [--curriculum playroom_ladder] [--preset quick] [--repeats 5]

Writes ``benchmarks/results/manager_overhead_<backend>.json`` and the manager-overhead section
of ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
import time
from pathlib import Path

import jax
import numpy as np

from bootstrap_rl import curriculum as curricula
from bootstrap_rl import study
from bootstrap_rl.study.inputs import run_inputs
from bootstrap_rl.study.plan import program_key
from bootstrap_rl.study.programs import Programs
from bootstrap_rl.results import replace_section, write_json

HERE = Path(__file__).resolve().parent
README_START, README_END = "<!-- manager-overhead:start -->", "<!-- manager-overhead:end -->"
BAR = 0.75
sys.path.insert(0, str(HERE))
from study_overhead import device_label  # noqa: E402


def timed(fn, *args):
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return out, time.perf_counter() - start


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--curriculum", default="playroom_ladder")
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-readme", action="store_true")
    parser.add_argument("--preset-methods", action="store_true",
                        help="only the preset's own methods and arms (default: every method of the full "
                             "curriculum that trains one learner per seed, and the UED arms, at the preset's sizes)")
    args = parser.parse_args(argv)

    c = curricula.load(args.curriculum, args.preset)
    if not args.preset_methods and args.preset is not None:
        # A preset may keep a few arms to stay short; the bar is for every method and UED arm.
        full = curricula.load(args.curriculum)
        c = c.replace(methods={name: m for name, m in full.methods.items() if m.members == 1},
                      library=full.library.replace(memory_size=256, memory_k=4) if full.library else None,
                      controls=c.controls.replace(ued=None))
    seeds = args.seeds or c.seeds
    root = jax.random.PRNGKey(0)
    runs = [r for r in study.expand_runs(c) if r.kind in ("direct", "childhood", "ued")]
    shared, compiled, arms = {}, {}, {}
    for run in runs:
        # As run_study does: one compiled learner per program (all childhood arms share one).
        key = program_key(c, run)
        if key not in compiled:
            compiled[key] = Programs(c, key, shared)
        learner = compiled[key].bind(c, run)
        keys, hparams, samplers, _ = run_inputs(c, run, seeds, root)
        # Time the adult stage's chunk and stage start: every arm runs it.
        adult = samplers[c.adult.name]
        index = len(run.schedule) - 1
        state, begin_s = timed(learner.begin, keys, hparams, samplers[run.schedule[0][0]], index == 0)
        state, start_compile_s = timed(learner.start_stage, state, adult, index, True)
        (state, _), chunk_compile_s = timed(learner.chunk, state, index)
        arms[run.arms[0]] = {"run": run, "learner": learner, "state": state, "adult": adult, "index": index,
                                "compile_s": begin_s + start_compile_s + chunk_compile_s,
                                "first": samplers[run.schedule[0][0]]}
        print(f"{run.arms[0]}: compiled in {arms[run.arms[0]]['compile_s']:.1f} s", flush=True)
    every = c.evaluation.every_env_steps

    def arm_seconds(run, t):
        """Training seconds of ``run``'s budget at the timings ``t``."""
        seconds = (run.budget // every) * t["chunk_s"] + t["first_start_s"] + (len(run.schedule) - 1) * t["start_s"]
        if t["ued_chunk_s"] is not None:  # the childhood's chunks at the childhood stage's time
            seconds += run.schedule[0][1] // every * (t["ued_chunk_s"] - t["chunk_s"])
        return seconds

    def time_arm(arm):
        """One repeat's timings of ``arm``; its best so far (``arm["best"]``) updated."""
        learner, t = arm["learner"], {"ued_chunk_s": None}
        # The first stage's start (managers that act from the second stage on skip it) and
        # a later one (the adult stage's).
        arm["state"], t["first_start_s"] = timed(learner.start_stage, arm["state"], arm["first"], 0, arm["index"] == 0)
        if arm["run"].ued:  # the automatic curriculum is on in the first stage
            (arm["state"], _), t["ued_chunk_s"] = timed(learner.chunk, arm["state"], 0)
        arm["state"], t["start_s"] = timed(learner.start_stage, arm["state"], arm["adult"], arm["index"], True)
        (arm["state"], _), t["chunk_s"] = timed(learner.chunk, arm["state"], arm["index"])
        arm["best"] = t if "best" not in arm else {
            key: None if value is None else min(value, arm["best"][key]) for key, value in t.items()}
        return t

    # Each arm is timed right after a direct chunk, and its ratio is the median over repeats of
    # these paired ratios: the machine's speed drifts (other tenants, clocks) by more than the
    # overheads measured, and a pair a few seconds apart sees the same machine.
    direct = arms["direct"]
    ratios = {name: [] for name in arms}
    for _ in range(args.repeats):
        for name, arm in arms.items():
            direct_seconds = arm_seconds(direct["run"], time_arm(direct))
            if name == "direct":
                ratios[name].append(1.0)
                continue
            seconds = arm_seconds(arm["run"], time_arm(arm))
            ratios[name].append(direct_seconds / seconds * arm["run"].budget / direct["run"].budget)

    rows = []
    for name, arm in arms.items():
        run, best = arm["run"], arm["best"]
        rows.append({"arm": name, "method": run.method or run.ued, "stages": len(run.schedule),
                     "ued_chunk_s": best["ued_chunk_s"],
                     "chunk_s": best["chunk_s"], "stage_start_s": best["start_s"], "compile_s": arm["compile_s"],
                     "env_steps_per_s": seeds * run.budget / arm_seconds(run, best),
                     "ratio_to_direct": float(np.median(ratios[name])),
                     "paired_ratios": [round(r, 4) for r in ratios[name]]})
    result = {
        "benchmark": "manager_overhead", "curriculum": c.name, "preset": args.preset, "seeds": seeds,
        "learner": {"num_envs": c.learner.num_envs, "num_steps": c.learner.num_steps},
        "library": None if c.library is None else c.library.__dict__,
        "device": device_label(), "jax": jax.__version__, "python": platform.python_version(),
        "date": datetime.date.today().isoformat(), "repeats": args.repeats, "bar": BAR, "rows": rows,
    }
    write_json(HERE / "results" / f"manager_overhead_{jax.default_backend()}.json", result)
    lines = [README_START, "## Childhood arms against the direct arm",
             "",
             f"`python benchmarks/manager_overhead.py` builds the direct, childhood and UED arms of `{c.name}` "
             f"at the sizes of its preset `{args.preset}` (with every single-learner method of the full curriculum "
             f"unless `--preset-methods`; {', '.join(c.methods)}), "
             f"{seeds} seeds vmapped, the library network of every arm) as the study does and times one "
             "evaluation interval of PPO updates and one stage start (where managers allocate, generate or "
             f"mix slots), each arm right after a direct chunk, {args.repeats} times; an arm's env-steps/s = its budget "
             "over its chunks plus its stage starts, best of repeats (evaluation excluded: the same program for "
             "every arm); its ratio to direct is the median of its paired ratios (the ratio to the direct "
             "chunk timed just before it), since the machine's speed drifts by more than the overheads. "
             f"The bar (issues 5, 17, 19): every childhood and UED arm >= {BAR}x direct.",
             "",
             f"Device: {result['device']}, jax {jax.__version__}, {result['date']}.",
             "",
             "| arm | env-steps/s (best) | ratio to direct (median of pairs) | chunk (s) | stage start (s) | compile (s) |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['arm']} | {r['env_steps_per_s']:,.0f} | {r['ratio_to_direct']:.2f}× | "
                     f"{r['chunk_s']:.2f} | {r['stage_start_s']:.3f} | {r['compile_s']:.1f} |")
    lines.append(README_END)
    if not args.no_readme:
        replace_section(HERE / "README.md", README_START, README_END, "\n".join(lines))
    for r in rows:
        print(f"{r['arm']:24s} {r['env_steps_per_s']:10,.0f} env-steps/s  {r['ratio_to_direct']:.2f}x direct")
    return result


if __name__ == "__main__":
    main()
