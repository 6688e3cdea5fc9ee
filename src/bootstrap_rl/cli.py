"""The ``bootstrap-rl`` command: ``study``, ``report``, ``train``, ``list`` and ``render``.

Every argument is checked — the env id looked up, the PPO config validated — before
anything compiles, and a bad one exits with a message that names it.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import typing
from pathlib import Path

# The library is imported inside functions: importing it starts JAX's backends (gymnax computes
# at import), and `study --distributed` must call jax.distributed.initialize before that.
if typing.TYPE_CHECKING:
    from bootstrap_rl.ppo.config import PPOConfig


class UsageError(ValueError):
    """A command-line argument that cannot be used as given."""


def _count(text: str) -> int:
    """An integer flag that also takes scientific notation: 5e5, 1_000_000."""
    try:
        value = float(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value.is_integer():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    return int(value)

# PPOConfig fields whose flag reads better under another name.
FLAG_NAMES = {"total_timesteps": "total-steps"}


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    from bootstrap_rl.ppo.config import PPOConfig

    hints = typing.get_type_hints(PPOConfig)
    group = parser.add_argument_group("PPO hyperparameters (defaults: PureJaxRL's CartPole-v1)")
    for field in dataclasses.fields(PPOConfig):
        flag = "--" + FLAG_NAMES.get(field.name, field.name.replace("_", "-"))
        kind = hints[field.name]
        if kind is bool:
            group.add_argument(flag, dest=field.name, action=argparse.BooleanOptionalAction,
                               default=field.default)
        elif field.name == "hidden_sizes":
            group.add_argument(flag, dest=field.name, type=int, nargs="+", default=list(field.default),
                               metavar="WIDTH")
        else:
            group.add_argument(flag, dest=field.name, type=_count if kind is int else kind,
                               default=field.default, metavar=kind.__name__.upper())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bootstrap-rl", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train PPO on one env, seeds vmapped")
    train.add_argument("--env", default="CartPole-v1", help="env id (see `bootstrap-rl list`)")
    train.add_argument("--seeds", type=int, default=8, help="number of seeds, vmapped")
    train.add_argument("--seed", type=int, default=0, help="root seed; seed i uses split(key(seed))[i]")
    train.add_argument("--out", type=Path, default=Path("runs/train"), help="results directory")
    train.add_argument("--overwrite", action="store_true",
                       help="replace the results already in --out (refused otherwise)")
    train.add_argument("--chunks", type=int, default=20,
                       help="updates run in this many compiled chunks; results are written after each")
    train.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    _add_config_flags(train)

    study = commands.add_parser(
        "study", help="run every arm of a curriculum on one budget, then write the report")
    study.add_argument("curriculum", help="a curriculum name (see `bootstrap-rl list`) or a path to a .py file")
    study.add_argument("--preset", default=None, help="one of the curriculum module's PRESETS (e.g. quick)")
    study.add_argument("--seeds", type=int, default=None, help="seeds per arm (default: the curriculum's)")
    study.add_argument("--seed", type=int, default=0, help="root seed: every number of the study derives from it")
    study.add_argument("--out", type=Path, default=None, help="results directory (default: runs/NAME[-PRESET])")
    study.add_argument("--resume", action="store_true", help="continue the interrupted study in --out")
    study.add_argument("--checkpoint-seconds", type=float, default=60.0,
                       help="save the learner state at least this often (and at every stage boundary)")
    study.add_argument("--no-report", action="store_true", help="skip writing report.md")
    study.add_argument("--devices", type=int, default=None,
                       help="shard seeds and population members over the first N devices (default: all)")
    study.add_argument("--seed-chunk", type=int, default=None, metavar="N",
                       help="train at most N seeds of a run at once, the rest in later chunks (default: all; "
                            "a run that does not fit in device memory is chunked by itself)")
    study.add_argument("--compilation-cache", type=Path, default=None, metavar="DIR",
                       help="keep compiled programs in DIR (JAX's persistent compilation cache) for later runs")
    hosts = study.add_argument_group(
        "many hosts", "run one process per host (or per GPU), each with the same arguments and --out on a "
                      "shared file system; process 0 writes the report")
    hosts.add_argument("--distributed", action="store_true",
                       help="join the other processes with jax.distributed.initialize before anything else")
    hosts.add_argument("--coordinator-address", default=None, metavar="HOST:PORT",
                       help="process 0's address (default: $JAX_COORDINATOR_ADDRESS, else cluster detection)")
    hosts.add_argument("--num-processes", type=int, default=None,
                       help="number of processes (default: $JAX_NUM_PROCESSES, else cluster detection)")
    hosts.add_argument("--process-id", type=int, default=None,
                       help="this process's index, 0 to N-1 (default: $JAX_PROCESS_ID, else cluster detection)")

    report = commands.add_parser("report", help="write report.md and figures for a study's results directory")
    report.add_argument("results", type=Path, help="the results directory of `bootstrap-rl study`")

    listing = commands.add_parser("list", help="list every registered env id and curriculum")
    listing.add_argument("what", nargs="?", choices=("envs", "curricula"), default=None)

    render = commands.add_parser("render", help="write a GIF of an episode")
    render.add_argument("env", help="env id")
    render.add_argument("--out", type=Path, default=None, help="GIF path (default: ENV_ID.gif)")
    render.add_argument("--from", dest="results", type=Path, default=None,
                        help="results directory of `train`: render its trained policy (seed 0)")
    render.add_argument("--seed", type=int, default=0)
    render.add_argument("--steps", type=int, default=None, help="frames (default: one step limit)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        _join_processes(argv)
    except UsageError as error:
        print(f"bootstrap-rl study: error: {error}", file=sys.stderr)
        return 2
    from bootstrap_rl.curriculum import UnknownCurriculumError
    from bootstrap_rl.ppo.config import ConfigError
    from bootstrap_rl.registry import UnknownEnvError
    from bootstrap_rl.study import StudyError

    args = build_parser().parse_args(argv)
    try:
        return {"train": train, "list": list_everything, "render": render, "study": study,
                "report": report}[args.command](args)
    except (ConfigError, UnknownEnvError, UsageError, UnknownCurriculumError, StudyError) as error:
        print(f"bootstrap-rl {args.command}: error: {error}", file=sys.stderr)
        return 2


def _join_processes(argv: list[str]) -> None:
    """``study --distributed``: join the other processes (jax.distributed.initialize) before
    anything imports the library, which starts JAX's backends. The flags are parsed again,
    with their help, by :func:`build_parser`."""
    if not argv or argv[0] != "study" or "--distributed" not in argv:
        return
    early = argparse.ArgumentParser(prog="bootstrap-rl study", add_help=False)
    early.add_argument("--coordinator-address", default=None)
    early.add_argument("--num-processes", type=int, default=None)
    early.add_argument("--process-id", type=int, default=None)
    cluster, _ = early.parse_known_args(argv[1:])
    if cluster.num_processes is not None and cluster.num_processes < 1:
        raise UsageError(f"--num-processes: must be a positive integer, got {cluster.num_processes}")
    if cluster.process_id is not None and cluster.process_id < 0:
        raise UsageError(f"--process-id: must be >= 0, got {cluster.process_id}")
    from bootstrap_rl import sharding  # jax and numpy only

    sharding.initialize_distributed(**vars(cluster))


def config_from_args(args: argparse.Namespace) -> PPOConfig:
    from bootstrap_rl.ppo.config import PPOConfig

    return PPOConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(PPOConfig)})


def train(args: argparse.Namespace) -> int:
    import jax
    import numpy as np

    import bootstrap_rl
    from bootstrap_rl import checkpoint, plotting, results, stats
    from bootstrap_rl.ppo import make_ppo
    from bootstrap_rl.runner import run

    from bootstrap_rl.ppo.config import ConfigError

    # Everything is validated before anything compiles.
    config = config_from_args(args)
    if args.seeds < 1:
        raise ConfigError("seeds", f"must be a positive integer, got {args.seeds}")
    if args.chunks < 1:
        raise ConfigError("chunks", f"must be a positive integer, got {args.chunks}")
    env, env_params = bootstrap_rl.make(args.env)
    out: Path = args.out
    if out.exists() and any(out.iterdir()) and not args.overwrite:
        raise UsageError(f"--out {out} already holds results; pass --overwrite to replace them")
    if args.overwrite and out.exists():
        import shutil

        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    results.write_json(out / "config.json", {
        "command": "train",
        "env_id": args.env,
        "seeds": args.seeds,
        "root_seed": args.seed,
        "ppo": config.to_dict(),
        "env_steps_per_seed": config.env_steps,
        "env_params": _jsonable(env_params),
        "device": str(jax.devices()[0].device_kind),
        "versions": _versions(),
    })
    table = results.MetricsTable(out / "metrics.csv", config.batch_size)
    ppo = make_ppo(config, env, env_params)
    keys = jax.random.split(jax.random.key(args.seed), args.seeds)

    bar = None if args.no_progress else _progress_bar(config.env_steps, args.seeds)
    start = time.perf_counter()
    state, metrics = run(
        ppo.init, ppo.update, keys, config.num_updates,
        chunks=args.chunks,
        on_chunk=table.append,
        progress=None if bar is None else bar.advance(config.batch_size),
    )
    wall = time.perf_counter() - start
    if bar is not None:
        bar.close()

    checkpoint.save(out / "params", state.params)
    final = stats.final_window(metrics["episode_return"])
    final = final[~np.isnan(final)]  # a seed that finished no episode in the window has no score
    summary = {
        "env_steps_per_seed": config.env_steps,
        "wall_s_including_compile": wall,
        "env_steps_per_s_including_compile": args.seeds * config.env_steps / wall,
        "final_window_episode_return": stats.iqm_with_ci(final) if final.size else None,
    }
    results.write_json(out / "summary.json", summary)
    env_steps = (1 + np.arange(config.num_updates)) * config.batch_size
    plotting.plot_learning_curve(
        env_steps, metrics["episode_return"], out / "learning_curve.png",
        title=f"PPO on {args.env}",
    )
    dropped = int(metrics["unbootstrapped_truncations"].sum())
    if dropped:
        print(f"warning: {dropped} truncated steps exceeded the bootstrap budget and were "
              "bootstrapped from the next observation (see make_ppo's max_truncations)", file=sys.stderr)
    score = summary["final_window_episode_return"]
    if score is not None:
        print(f"final 10% episode return, IQM over {score['n']} seeds: {score['iqm']:.1f} "
              f"[{score['ci_low']:.1f}, {score['ci_high']:.1f}]")
    print(f"wrote {out}/: config.json metrics.csv summary.json learning_curve.png params/")
    return 0


def study(args: argparse.Namespace) -> int:
    from bootstrap_rl import curriculum as curricula
    from bootstrap_rl import sharding
    from bootstrap_rl.study import enable_compilation_cache, run_study

    # --distributed: the processes were joined before the library was imported (main).
    cluster = {"coordinator_address": args.coordinator_address, "num_processes": args.num_processes,
               "process_id": args.process_id}
    if not args.distributed and any(value is not None for value in cluster.values()):
        given = [f"--{name.replace('_', '-')}" for name, value in cluster.items() if value is not None]
        raise UsageError(f"{', '.join(given)}: only with --distributed")
    if args.devices is not None and args.devices < 1:
        raise UsageError(f"--devices: must be a positive integer, got {args.devices}")
    if args.seed_chunk is not None and args.seed_chunk < 1:
        raise UsageError(f"--seed-chunk: must be a positive integer, got {args.seed_chunk}")
    if args.compilation_cache is not None:
        enable_compilation_cache(args.compilation_cache)
    # The curriculum validates itself (budgets, stages, tasks) when its module is loaded.
    curriculum = curricula.load(args.curriculum, args.preset)
    if args.seeds is not None and args.seeds < 1:
        raise UsageError(f"--seeds: must be a positive integer, got {args.seeds}")
    if args.checkpoint_seconds < 0:
        raise UsageError(f"--checkpoint-seconds: must be >= 0, got {args.checkpoint_seconds}")
    out = args.out or Path("runs") / (curriculum.name + (f"-{args.preset}" if args.preset else ""))
    start = time.perf_counter()
    table = run_study(curriculum, out, seeds=args.seeds, root_seed=args.seed, resume=args.resume,
                      checkpoint_seconds=args.checkpoint_seconds, devices=args.devices, seed_chunk=args.seed_chunk)
    if not sharding.is_writer():
        return 0  # process 0 reports
    print(f"wrote {table} ({time.perf_counter() - start:.0f} s)")
    if not args.no_report:
        from bootstrap_rl.report import write_report

        print(f"wrote {write_report(out)}")
    return 0


def report(args: argparse.Namespace) -> int:
    from bootstrap_rl.report import write_report

    if not (args.results / "study.json").exists():
        raise UsageError(f"{args.results} holds no study.json (not a `bootstrap-rl study` results directory)")
    print(f"wrote {write_report(args.results)}")
    return 0


def list_everything(args: argparse.Namespace) -> int:
    from bootstrap_rl import curriculum as curricula
    from bootstrap_rl.registry import registered_ids

    if args.what in (None, "envs"):
        print("envs:")
        for env_id, origin in sorted(registered_ids().items(), key=lambda item: (item[1], item[0])):
            print(f"  {env_id:32s} {origin}")
    if args.what in (None, "curricula"):
        print("curricula:")
        for name in curricula.available():
            try:
                curriculum = curricula.load(name)
                presets = curricula.presets(name)
                line = curricula.describe(curriculum) + (f"; presets: {', '.join(presets)}" if presets else "")
            except Exception as error:  # a broken module is listed, not fatal
                line = f"(fails to load: {error})"
            print(f"  {name:20s} {line}")
    return 0


def render(args: argparse.Namespace) -> int:
    import bootstrap_rl
    from bootstrap_rl.rendering import render_episode_gif

    out = args.out or Path(f"{args.env}.gif")
    policy = None if args.results is None else _trained_policy(args.results, args.env)
    env, _ = bootstrap_rl.make(args.env)
    if not callable(getattr(env, "render", None)):
        raise UsageError(f"env {args.env!r} has no render(state, params) method to draw it with")
    path = render_episode_gif(args.env, out, seed=args.seed, num_steps=args.steps, policy=policy)
    print(f"wrote {path}")
    return 0


def _trained_policy(results_dir: Path, env_id: str):
    """A ``(key, obs) -> action`` policy from seed 0 of a ``train`` results directory."""
    import json

    import jax

    import bootstrap_rl
    from bootstrap_rl import checkpoint
    from bootstrap_rl.ppo import PPOConfig, make_ppo

    config_path = results_dir / "config.json"
    if not config_path.exists():
        raise UsageError(f"--from: {results_dir} holds no config.json (not a `train` results directory)")
    saved = json.loads(config_path.read_text())
    if saved["env_id"] != env_id:
        raise UsageError(f"--from: {results_dir} trained on {saved['env_id']!r}, not {env_id!r}")
    env, env_params = bootstrap_rl.make(env_id)
    ppo = make_ppo(PPOConfig(**saved["ppo"]), env, env_params)
    like = jax.eval_shape(jax.vmap(ppo.init), jax.random.split(jax.random.key(0), saved["seeds"])).params
    params = jax.tree.map(lambda x: x[0], checkpoint.restore(results_dir / "params", like))

    def policy(key, obs):
        return ppo.network.apply(params, obs[None], method="policy").sample(key)[0]

    return policy


class _progress_bar:
    """tqdm over env steps per seed, with throughput over all seeds after the first chunk
    (the first chunk includes compilation, so it is timed separately)."""

    def __init__(self, steps_per_seed: int, seeds: int):
        from tqdm import tqdm

        self.seeds = seeds
        # tqdm's own rate and ETA would count compilation, so the bar shows ours instead.
        self.bar = tqdm(total=steps_per_seed, unit_scale=True, desc="env steps/seed",
                        bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]",
                        dynamic_ncols=True)
        self.first = None

    def advance(self, env_steps_per_update: int):
        def callback(updates_done: int, seconds: float):
            steps = updates_done * env_steps_per_update
            if self.first is None:
                self.first = (steps, seconds)
                self.bar.set_postfix_str(f"first chunk incl. compile {seconds:.1f}s")
            else:
                rate = self.seeds * (steps - self.first[0]) / max(seconds - self.first[1], 1e-9)
                self.bar.set_postfix_str(f"{rate:,.0f} env-steps/s")
            self.bar.update(steps - self.bar.n)

        return callback

    def close(self):
        self.bar.close()


def _jsonable(tree):
    import jax
    import numpy as np

    if dataclasses.is_dataclass(tree):
        return {f.name: _jsonable(getattr(tree, f.name)) for f in dataclasses.fields(tree)}
    return jax.tree.map(lambda x: np.asarray(x).tolist(), tree)


def _versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("bootstrap-rl", "jax", "flax", "optax", "gymnax")}


if __name__ == "__main__":
    sys.exit(main())
