"""Every benchmark in one command, for a GPU or TPU (or, with ``--quick``, a CPU smoke run).

Runs, each in its own subprocess (a crash, an out-of-memory abort or a hang of one benchmark
costs only that one; each starts with the device's memory free):

- ``env``: random-policy env throughput of every task family: ``env_throughput.py`` (Playroom
  beside CartPole-v1 and Breakout-MinAtar) and ``limbs_throughput.py`` (Limbs beside
  Pendulum-v1);
- ``ppo``: PPO against rejax: ``ppo_throughput.py`` (CartPole-v1) and ``pendulum_ppo.py``
  (Gaussian PPO on Pendulum-v1);
- ``manager``: each childhood arm's throughput against the direct arm (``manager_overhead.py``);
- ``study``: the wall time of a whole study, ``playroom_ladder`` as its module defines it (the
  full study: every arm, 10 seeds, 16.8M env steps per arm), run twice as ``bootstrap-rl
  study`` with one persistent compilation cache, empty at first: the first run's wall time
  includes compiling everything, the second shows how much of a warm start is still compiling
  (tracing and lowering are never cached). Issue 7's bars: the full study within 10 minutes on
  an H100, compilation included; a warm repeat at most 10% compiling.

Writes ``benchmarks/results/run_all_<backend>.json`` after every benchmark (a crash keeps what
was written; a benchmark that fails is recorded with its error and the rest still run), with
the device and the software versions, and this device's block of the run-all section of
``benchmarks/README.md``. Each benchmark also writes its own JSON and README section, as when
run alone.

    python benchmarks/run_all.py                          # everything, default sizes
    python benchmarks/run_all.py --only env,ppo           # groups (env, ppo, manager, study, stats) or names
    python benchmarks/run_all.py --quick                  # everything tiny: a smoke test, on a CPU

``--quick`` runs every benchmark at toy sizes and a tiny CartPole study instead of
``playroom_ladder``; its numbers mean nothing, so it writes ``run_all_<backend>_quick.json``
and touches neither the README nor the other benchmarks' results (they write into the work
folder instead).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import signal
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "src"))  # a checkout without `pip install -e .` still finds the library
sys.path.insert(0, str(HERE))
from _common import replace_device_block, shown_path, slug  # noqa: E402
from bootstrap_rl.results import write_json  # noqa: E402

# name -> (script, arguments at default sizes, arguments with --quick)
SCRIPTS = {
    "env_throughput": ("env_throughput.py", [],
                       ["--num-envs", "8", "--steps-per-call", "32", "--repeats", "2"]),
    "limbs_throughput": ("limbs_throughput.py", [],
                         ["--num-envs", "8", "--steps-per-call", "32", "--repeats", "2"]),
    "ppo_throughput": ("ppo_throughput.py", [],
                       ["--seeds", "2", "--total-steps", "4096", "--repeats", "1", "--skip-overhead"]),
    "pendulum_ppo": ("pendulum_ppo.py", [], ["--seeds", "2", "--total-steps", "20000", "--repeats", "1"]),
    "manager_overhead": ("manager_overhead.py", [], ["--seeds", "1", "--repeats", "1"]),
    "stats_calibration": ("stats_calibration.py", [],
                          ["--studies", "100", "--rho-studies", "60", "--extra-studies", "20"]),
}
GROUPS = {
    "env": ["env_throughput", "limbs_throughput"],
    "ppo": ["ppo_throughput", "pendulum_ppo"],
    "manager": ["manager_overhead"],
    "study": ["study"],
    "stats": ["stats_calibration"],
}
ORDER = [name for names in GROUPS.values() for name in names]
STUDY_BAR_S, WARM_COMPILE_BAR = 600.0, 0.10
START, END = "<!-- run-all:start -->", "<!-- run-all:end -->"

# Run inside each benchmark's subprocess: import the script, point its outputs elsewhere if
# asked (--quick), call main(argv) and keep what it returns.
RUNNER = textwrap.dedent('''
    import importlib.util, json, sys
    from pathlib import Path
    script, result, redirect, *argv = sys.argv[1:]
    sys.path.insert(0, str(Path(script).parent))
    spec = importlib.util.spec_from_file_location(Path(script).stem, script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    if redirect:
        module.HERE = Path(redirect)
        if hasattr(module, "README"):
            module.README = Path(redirect) / "README.md"
    report = module.main(argv)
    Path(result).write_text(json.dumps(report, default=str))
''')

# The device and software, read in a subprocess: this process never starts a JAX backend (on
# a GPU that would hold memory the benchmarks need).
PROBE = textwrap.dedent('''
    import importlib.metadata, json, os, platform, sys
    import jax
    devices = jax.devices()
    def version(name):
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return None
    try:
        platform_version = devices[0].client.platform_version
    except Exception:
        platform_version = None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(json.dumps({
        "backend": jax.default_backend(), "device_kind": devices[0].device_kind,
        "devices": len(devices), "processes": jax.process_count(), "platform_version": platform_version,
        "machine": platform.machine(), "processor": platform.processor(), "cpu_cores": cores,
        "software": {"python": platform.python_version(), **{name: version(name) for name in (
            "jax", "jaxlib", "jax-cuda12-plugin", "jax-cuda12-pjrt", "jax-cuda13-plugin", "jax-cuda13-pjrt",
            "libtpu", "flax", "optax", "orbax-checkpoint",
            "chex", "distrax", "gymnax", "gymnasium", "rejax", "evosax", "numpy", "bootstrap-rl")}},
    }))
''')

# --quick's study: a toy CartPole curriculum (one childhood stage with a method, a D:prodigy grid),
# seconds per arm once compiled.
QUICK_CURRICULUM = textwrap.dedent('''
    """A toy CartPole curriculum for run_all.py --quick (a smoke test)."""
    from bootstrap_rl.curricula.cartpole_physics import physics
    from bootstrap_rl.curriculum import Curriculum, Evaluation, ProdigyGrid, Stage
    from bootstrap_rl.managers import kickstarting
    from bootstrap_rl.ppo import PPOConfig

    CURRICULUM = Curriculum(
        name="run_all_quick",
        env="CartPole-v1",
        stages=(Stage("easy", physics((3.0, 5.0), (0.8, 1.0)), env_steps=512),),
        adult=Stage("hard", physics((15.0, 20.0), (0.15, 0.25)), env_steps=1024),
        total_env_steps=1536,
        learner=PPOConfig(num_envs=4, num_steps=32, update_epochs=1, num_minibatches=2,
                          anneal_lr=False, hidden_sizes=(16, 16)),
        evaluation=Evaluation(every_env_steps=256, episodes=4, probe_observations=32),
        methods={"distil": kickstarting(coef=1.0, decay=0.95)},
        prodigy_grid=ProdigyGrid(learning_rate=(3e-4, 1e-3)),
        seeds=2,
    )
''')


def parse_only(text: str | None) -> list[str]:
    """The benchmarks named by ``--only`` (groups or names, comma-separated), in run order."""
    if not text:
        return list(ORDER)
    chosen = set()
    for word in (w.strip() for w in text.split(",")):
        if word in GROUPS:
            chosen.update(GROUPS[word])
        elif word in ORDER:
            chosen.add(word)
        elif word:
            raise SystemExit(f"--only: unknown benchmark {word!r}; groups: {', '.join(GROUPS)}; "
                             f"names: {', '.join(ORDER)}")
    return [name for name in ORDER if name in chosen]


def run_logged(command: list[str], log: Path, timeout: float, env: dict | None = None) -> tuple[int | None, float, str]:
    """Run ``command`` with its output both shown and kept in ``log``: (return code, or None
    after a timeout; wall seconds; the output's last 4,000 characters)."""
    import threading

    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with open(log, "w") as sink:
        # Its own process group: a timeout ends the benchmark and whatever it started.
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                cwd=REPO, env=env, start_new_session=True)

        def echo():  # a thread, so that a benchmark hung without output still times out
            for line in proc.stdout:
                sys.stdout.write(line)
                sys.stdout.flush()
                sink.write(line)
                sink.flush()

        reader = threading.Thread(target=echo, daemon=True)
        reader.start()
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            code = None
        reader.join(timeout=10)
    text = log.read_text(errors="replace")
    return code, time.perf_counter() - start, text[-4000:]


def run_script(name: str, args, work: Path) -> dict:
    """One benchmark script's main() in a subprocess: what it returned, or why it failed."""
    script, default_args, quick_args = SCRIPTS[name]
    argv = list(quick_args if args.quick else default_args)
    redirect = ""
    if args.quick:  # toy numbers: keep them out of benchmarks/results and the README
        redirect = str(work / "outputs")
        (work / "outputs" / "results").mkdir(parents=True, exist_ok=True)
    if args.quick or args.no_readme:
        argv.append("--no-readme")
    result = work / f"{name}.result.json"
    result.unlink(missing_ok=True)
    command = [sys.executable, "-c", RUNNER, str(HERE / script), str(result), redirect, *argv]
    code, wall, tail = run_logged(command, work / "logs" / f"{name}.log", args.timeout)
    entry = {"command": f"python benchmarks/{script} {' '.join(argv)}".strip(), "wall_s": wall,
             "log": str(work / "logs" / f"{name}.log")}
    if code == 0 and result.exists():
        return {**entry, "status": "ok", "result": json.loads(result.read_text())}
    status = "timeout" if code is None else "failed"
    return {**entry, "status": status, "returncode": code, "error": tail}


def study_timing(out: Path) -> dict:
    """Compile, training and evaluation seconds summed over a study's runs (timing/*.json)."""
    runs = {p.stem: json.loads(p.read_text()) for p in sorted((out / "timing").glob("*.json"))}
    total = {key: sum(t.get(key) or 0 for t in runs.values())
             for key in ("compile_s", "compile_and_first_chunk_s", "train_s", "eval_s", "persistent_cache_hits")}
    peaks = [t["peak_device_memory_bytes"] for t in runs.values() if t.get("peak_device_memory_bytes")]
    chunks = {slug: t["seed_chunk"] for slug, t in runs.items() if t.get("seed_chunk")}
    return {**total, "runs": len(runs), "peak_device_memory_bytes": max(peaks) if peaks else None,
            "seed_chunks": chunks, "per_run": runs}


def run_study_twice(args, work: Path) -> dict:
    """The study, cold (an empty persistent compilation cache) and then warm (the same cache)."""
    if args.quick:
        curriculum = work / "run_all_quick.py"
        curriculum.write_text(QUICK_CURRICULUM)
        target, preset = [str(curriculum)], []
    else:
        target = [args.study_curriculum]
        preset = ["--preset", args.study_preset] if args.study_preset else []
    seeds = ["--seeds", str(args.study_seeds)] if args.study_seeds else []
    # A reused --work folder: start cold for real (an empty cache, no earlier study to refuse).
    shutil.rmtree(work / "study", ignore_errors=True)
    cache = work / "study" / "jax-cache"
    entry = {"curriculum": target[0], "preset": args.study_preset or None, "passes": {}}
    for attempt in ("cold", "warm"):
        out = work / "study" / attempt
        command = [sys.executable, "-c", "import sys; from bootstrap_rl.cli import main; sys.exit(main())",
                   "study", *target, *preset, *seeds, "--out", str(out), "--compilation-cache", str(cache),
                   "--no-report"]
        entry["command"] = " ".join(["bootstrap-rl", *command[3:]])
        code, wall, tail = run_logged(command, work / "logs" / f"study_{attempt}.log", args.timeout)
        record = {"wall_s": wall, "out": str(out)}
        if code != 0:
            entry["status"] = "timeout" if code is None else "failed"
            entry["passes"][attempt] = {**record, "status": entry["status"], "returncode": code, "error": tail}
            return entry
        timing = study_timing(out)
        meta = json.loads((out / "study.json").read_text())
        record.update(status="ok", timing=timing, compile_share=timing["compile_s"] / wall,
                      seeds=meta["seeds"], arms=len(meta["arms"]), env_steps_per_arm=meta["total_env_steps"])
        entry["passes"][attempt] = record
    cold, warm = entry["passes"]["cold"], entry["passes"]["warm"]
    entry.update(status="ok", bars={
        "study_wall_s_at_most": STUDY_BAR_S, "study_within_bar": cold["wall_s"] <= STUDY_BAR_S,
        "warm_compile_share_at_most": WARM_COMPILE_BAR,
        "warm_compile_share_within_bar": warm["compile_share"] <= WARM_COMPILE_BAR,
    })
    return entry


def headline(name: str, entry: dict) -> str:
    """One line of numbers for the README table (the benchmark's own section has the rest)."""
    if entry.get("status") != "ok":
        return f"**{entry.get('status', '?')}** (see the JSON)"
    r = entry.get("result", {})
    try:
        if name in ("env_throughput", "limbs_throughput"):
            rows = r["results"]
            most = max(row["num_envs"] for row in rows)
            at = {row["env"]: row["steps_per_s"] for row in rows if row["num_envs"] == most}
            family = "Playroom" if name == "env_throughput" else "Limbs"
            reference = "Breakout-MinAtar" if name == "env_throughput" else "Pendulum-v1"
            ours = [v for env, v in at.items() if env.startswith(family)]
            return (f"{family} {min(ours):.2e}–{max(ours):.2e} env-steps/s at {most:,} envs "
                    f"({reference} {at[reference]:.2e})")
        if name in ("ppo_throughput", "pendulum_ppo"):
            return "; ".join(f"{s['num_seeds']} seeds: {s['results']['ratio_env_steps_per_s']:.2f}× rejax env-steps/s"
                             for s in r["sizes"])
        if name == "manager_overhead":
            rows = [row for row in r["rows"] if row["arm"] != "direct"]
            worst = min(rows, key=lambda row: row["ratio_to_direct"])
            return (f"childhood arms {worst['ratio_to_direct']:.2f}×–"
                    f"{max(row['ratio_to_direct'] for row in rows):.2f}× direct (lowest: {worst['arm']})")
        if name == "stats_calibration":
            at10 = next(v for v in r["verdicts"] if v["n"] == 10 and v["poi"] is None and v["paired"])
            fpr, fw = at10["fpr_per_comparison"], at10["fw_holds"]
            fpr, fw = (x["rate"] if isinstance(x, dict) else x for x in (fpr, fw))
            return (f"n = 10, 13 null comparisons: per-comparison false positives {fpr:.3f}, "
                    f"family-wise holds {fw:.3f}")
        if name == "study":
            cold, warm = entry["passes"]["cold"], entry["passes"]["warm"]
            return (f"{cold['arms']} arms × {cold['seeds']} seeds × {cold['env_steps_per_arm']:,} env steps: "
                    f"{cold['wall_s']:.0f} s cold ({cold['compile_share']:.0%} compiling), "
                    f"{warm['wall_s']:.0f} s warm ({warm['compile_share']:.0%} compiling)")
    except (KeyError, ValueError, TypeError, ZeroDivisionError):
        pass
    return "see the JSON"


def readme_block(report: dict, json_path: str) -> str:
    device = report["device"]
    block_id = "run-all:" + slug(f"{device['backend']} {device['device_kind']} {device['devices']}")
    software = report["device"]["software"]
    lines = [f"<!-- {block_id} -->",
             f"**{device['backend']}: {device['device_kind']} × {device['devices']}**, jax {software['jax']}, "
             f"jaxlib {software['jaxlib']}, {report['date'][:10]}, `{report['command']}`; raw: `{json_path}`.",
             "", "| benchmark | date | status | wall (s) | headline |", "| --- | --- | --- | ---: | --- |"]
    for name, entry in sorted(report["benchmarks"].items(), key=lambda item: ORDER.index(item[0])):
        wall = entry.get("wall_s")
        if name == "study" and entry.get("passes"):
            wall = sum(p["wall_s"] for p in entry["passes"].values())
        lines.append(f"| {name} | {entry.get('date', '')[:10]} | {entry.get('status')} | "
                     f"{'' if wall is None else f'{wall:,.0f}'} | "
                     f"{headline(name, entry)} |")
    study = report["benchmarks"].get("study", {})
    if study.get("bars"):
        bars = study["bars"]
        lines += ["", f"Issue 7's bars: full study ≤ {bars['study_wall_s_at_most']:.0f} s including compilation: "
                      f"**{'yes' if bars['study_within_bar'] else 'no'}**; warm repeat ≤ "
                      f"{bars['warm_compile_share_at_most']:.0%} compiling: "
                      f"**{'yes' if bars['warm_compile_share_within_bar'] else 'no'}**."]
    lines.append(f"<!-- /{block_id} -->")
    return "\n".join(lines), block_id


def update_readme(block: str, block_id: str) -> None:
    """Replace (or add) this device's block inside the run-all section of the README."""
    replace_device_block(HERE / "README.md", START, END, "## Every benchmark at once", block_id, block)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=None,
                        help=f"comma-separated groups ({', '.join(GROUPS)}) or benchmark names ({', '.join(ORDER)})")
    parser.add_argument("--quick", action="store_true",
                        help="everything at toy sizes (a smoke test, e.g. on a CPU): no README, results apart")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="folder of run_all's JSON")
    parser.add_argument("--work", type=Path, default=None,
                        help="folder for logs, the study's results and its compilation cache (default: a new "
                             "temporary folder, kept)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds per benchmark (and per study pass) before it is stopped and recorded as "
                             "a timeout (default: 3600; 1200 with --quick)")
    parser.add_argument("--no-readme", action="store_true", help="touch no README section")
    parser.add_argument("--study-curriculum", default="playroom_ladder")
    parser.add_argument("--study-preset", default="",
                        help="a preset of the study's curriculum (default: none, the full study)")
    parser.add_argument("--study-seeds", type=int, default=None, help="seeds per arm (default: the curriculum's)")
    args = parser.parse_args(argv)
    names = parse_only(args.only)
    if args.timeout is None:
        args.timeout = 1200.0 if args.quick else 3600.0
    if args.timeout <= 0:
        raise SystemExit(f"--timeout: must be positive, got {args.timeout}")
    if args.study_seeds is not None and args.study_seeds < 1:
        raise SystemExit(f"--study-seeds: must be a positive integer, got {args.study_seeds}")
    work = args.work or Path(tempfile.mkdtemp(prefix="run_all-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"run_all: {', '.join(names)}{' (quick)' if args.quick else ''}; logs and study outputs in {work}",
          flush=True)

    code, _, tail = run_logged([sys.executable, "-c", PROBE], work / "logs" / "probe.log", 600)
    if code != 0:
        raise SystemExit(f"run_all: cannot start JAX:\n{tail}")
    device = json.loads(next(line for line in reversed(tail.splitlines()) if line.startswith("{")))
    report = {
        "benchmark": "run_all", "quick": args.quick,
        "command": "python benchmarks/run_all.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "device": device, "work": str(work), "benchmarks": {},
    }
    suffix = "_quick" if args.quick else ""
    json_path = args.out / f"run_all_{device['backend']}{suffix}.json"
    if args.only and json_path.exists():
        # A subset (one call per group, say, where a call's time is limited): keep what earlier
        # calls measured on this kind of device for the others, each with its own date.
        earlier = json.loads(json_path.read_text())
        if earlier.get("device", {}).get("device_kind") == device["device_kind"]:
            report["benchmarks"] = {name: entry for name, entry in earlier.get("benchmarks", {}).items()
                                    if name not in names}
    for name in names:
        print(f"\n=== run_all: {name}", flush=True)
        started = time.perf_counter()
        try:
            entry = run_study_twice(args, work) if name == "study" else run_script(name, args, work)
        except Exception as error:  # run_all's own failure on one benchmark: record it, go on
            entry = {"status": "failed", "error": f"{type(error).__name__}: {error}"}
        entry.setdefault("wall_s", time.perf_counter() - started)
        entry["date"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        report["benchmarks"][name] = entry
        write_json(json_path, report)  # after every benchmark: a crash keeps what was measured
        print(f"=== run_all: {name}: {entry['status']} ({entry['wall_s']:.0f} s): {headline(name, entry)}", flush=True)

    if not (args.quick or args.no_readme):
        update_readme(*readme_block(report, shown_path(json_path, REPO)))
    failed = [name for name in names if report["benchmarks"][name]["status"] != "ok"]
    print(f"\nrun_all: wrote {json_path}; " + (f"failed: {', '.join(failed)}" if failed else "every benchmark ran"))
    return report


if __name__ == "__main__":
    report = main()
    sys.exit(1 if any(e["status"] != "ok" for e in report["benchmarks"].values()) else 0)
