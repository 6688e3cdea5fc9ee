"""The ``bootstrap-rl`` command: ``study``, ``plan``, ``report``, ``train``, ``list`` and ``render``.

Every argument is checked — the env id looked up, the PPO config validated — before
anything compiles, and a bad one exits with a message that names it.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import os
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

class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (what is wrong, and where help is), exit 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _assignment(text: str) -> str:
    """A ``--set`` value: KEY=VALUE (the key is checked against the curriculum later)."""
    key, sep, _ = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE (e.g. learner.learning_rate=3e-4)")
    return text


def _add_experiment_log_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log", action="append", choices=("tensorboard", "wandb"), default=None,
                        help="also log every results.csv row to TensorBoard (<out>/tensorboard) or Weights & "
                             "Biases (offline unless WANDB_MODE is set), one run per arm x seed; repeatable; "
                             "needs pip install 'bootstrap-rl[log]'")


def _add_override_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", dest="overrides", action="append", type=_assignment, default=None,
                        metavar="KEY=VALUE",
                        help="change a curriculum field, by dotted path: --set learner.learning_rate=3e-4 "
                             "--set seeds=20 --set stages.0.env_steps=2e5 (repeatable; checked like the module; "
                             "recorded in study.json)")


# Disk and permission errors are the user's to fix, not bugs: one line, not a traceback.
_ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR,
                       errno.EISDIR}


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


def _add_cache_flags(parser: argparse.ArgumentParser) -> None:
    cache = parser.add_mutually_exclusive_group()
    cache.add_argument("--compilation-cache", type=Path, default=None, metavar="DIR",
                       help="keep compiled programs in DIR, JAX's persistent compilation cache, for later runs "
                            "(default: $BOOTSTRAP_RL_COMPILATION_CACHE, else ~/.cache/bootstrap-rl/jax)")
    cache.add_argument("--no-compilation-cache", action="store_true", help="compile everything afresh")


def _cache_option(args: argparse.Namespace) -> Path | bool:
    """``compilation_cache=`` for the API: a folder, False for none, True for the default."""
    if args.no_compilation_cache:
        return False
    return args.compilation_cache if args.compilation_cache is not None else True


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bootstrap-rl", description=__doc__.split("\n\n")[0])
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
    _add_cache_flags(train)
    _add_experiment_log_flag(train)
    _add_config_flags(train)

    study = commands.add_parser(
        "study", help="run every arm of a curriculum on one budget, then write the report")
    study.add_argument("curriculum", help="a curriculum name (see `bootstrap-rl list`) or a path to a .py file")
    study.add_argument("--preset", default=None, help="one of the curriculum module's PRESETS (e.g. quick)")
    _add_override_flag(study)
    study.add_argument("--seeds", type=int, default=None, help="seeds per arm (default: the curriculum's)")
    study.add_argument("--seed", type=int, default=0, help="root seed: every number of the study derives from it")
    study.add_argument("--out", type=Path, default=None, help="results directory (default: runs/NAME[-PRESET])")
    study.add_argument("--resume", action="store_true", help="continue the interrupted study in --out")
    study.add_argument("--checkpoint-seconds", type=float, default=60.0,
                       help="save the learner state at least this often (and at every stage boundary)")
    study.add_argument("--no-report", action="store_true", help="skip writing report.md")
    study.add_argument("--no-progress", action="store_true",
                       help="hide the progress line (arms, env steps, env steps/s, time left) on stderr")
    study.add_argument("--devices", type=int, default=None,
                       help="shard seeds and population members over the first N devices (default: all)")
    study.add_argument("--seed-chunk", type=int, default=None, metavar="N",
                       help="train at most N seeds of a run at once, the rest in later chunks (default: all; "
                            "a run that does not fit in device memory is chunked by itself)")
    _add_cache_flags(study)
    _add_experiment_log_flag(study)
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

    plan = commands.add_parser(
        "plan", help="list the arms a study would train (stages, budget, parameters, shared programs); "
                     "trains and compiles nothing")
    plan.add_argument("curriculum", help="a curriculum name (see `bootstrap-rl list`) or a path to a .py file")
    plan.add_argument("--preset", default=None, help="one of the curriculum module's PRESETS (e.g. quick)")
    plan.add_argument("--json", action="store_true", help="print the arms as JSON")
    _add_override_flag(plan)

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
                "plan": plan, "report": report}[args.command](args)
    except (ConfigError, UnknownEnvError, UsageError, UnknownCurriculumError, StudyError) as error:
        print(f"bootstrap-rl {args.command}: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # ``bootstrap-rl plan ... | head``: the reader has what it wanted
        _silence_stdout()
        return 128 + 13  # what a shell reports for a writer stopped by SIGPIPE
    except OSError as error:
        if error.errno not in _ENVIRONMENT_ERRNOS:
            raise
        where = f": {error.filename}" if error.filename else ""
        print(f"bootstrap-rl {args.command}: error: {error.strerror or error}{where}", file=sys.stderr)
        return 2


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that flushing it at exit raises no second BrokenPipeError
    (the recipe of Python's documentation, ``signal`` module, "Note on SIGPIPE")."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (a test's capture, say)
        pass


def _join_processes(argv: list[str]) -> None:
    """``study --distributed``: join the other processes (jax.distributed.initialize) before
    anything imports the library, which starts JAX's backends. The flags are parsed again,
    with their help, by :func:`build_parser`."""
    if not argv or argv[0] != "study" or "--distributed" not in argv:
        return
    early = _Parser(prog="bootstrap-rl study", add_help=False)
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
    from bootstrap_rl.training import OutputExistsError, train as run_training

    try:
        run_training(args.env, config_from_args(args), seeds=args.seeds, seed=args.seed, out=args.out,
                     overwrite=args.overwrite, chunks=args.chunks, progress=not args.no_progress,
                     compilation_cache=_cache_option(args), experiment_log=args.log)
    except OutputExistsError as error:
        raise UsageError(str(error)) from None
    return 0


def study(args: argparse.Namespace) -> int:
    from bootstrap_rl import api, sharding

    # --distributed: the processes were joined before the library was imported (main).
    cluster = {"coordinator_address": args.coordinator_address, "num_processes": args.num_processes,
               "process_id": args.process_id}
    if not args.distributed and any(value is not None for value in cluster.values()):
        given = [f"--{name.replace('_', '-')}" for name, value in cluster.items() if value is not None]
        raise UsageError(f"{', '.join(given)}: only with --distributed")
    for flag, value in (("--devices", args.devices), ("--seed-chunk", args.seed_chunk), ("--seeds", args.seeds)):
        if value is not None and value < 1:
            raise UsageError(f"{flag}: must be a positive integer, got {value}")
    if args.checkpoint_seconds < 0:
        raise UsageError(f"--checkpoint-seconds: must be >= 0, got {args.checkpoint_seconds}")
    start = time.perf_counter()
    results = api.run_study(args.curriculum, args.out, preset=args.preset, report=not args.no_report, seeds=args.seeds, root_seed=args.seed,
                            resume=args.resume, checkpoint_seconds=args.checkpoint_seconds, devices=args.devices,
                            seed_chunk=args.seed_chunk, compilation_cache=_cache_option(args),
                            progress=not args.no_progress, overrides=args.overrides, experiment_log=args.log)
    if not sharding.is_writer():
        return 0  # process 0 reports
    print(f"wrote {results.path / 'results.csv'} ({time.perf_counter() - start:.0f} s)")
    if results.report_path is not None:
        from bootstrap_rl.report.terminal import summary_of

        print(summary_of(results.path))
    return 0


def plan(args: argparse.Namespace) -> int:
    import json

    from bootstrap_rl import api
    from bootstrap_rl.study.plan import plan_arms

    curriculum = api.load_curriculum(args.curriculum, args.preset, overrides=args.overrides)
    curriculum.validate()
    arms = plan_arms(curriculum)
    if args.json:
        print(json.dumps({"curriculum": curriculum.name, "preset": args.preset, "seeds": curriculum.seeds,
                          "total_env_steps": curriculum.total_env_steps, "arms": arms}, indent=2))
        return 0
    print(f"{curriculum.name}{f' --preset {args.preset}' if args.preset else ''}: {len(arms)} arms x "
          f"{curriculum.seeds} seeds, {curriculum.total_env_steps:,} env steps per arm, "
          f"{len({arm['program'] for arm in arms})} compiled programs")
    width = max(len(arm["arm"]) for arm in arms)
    print(f"  {'arm':{width}s}  {'kind':18s} {'program':>7s} {'active':>8s} {'total':>8s}  stages (env steps)")
    for arm in arms:
        stages = " -> ".join(f"{s['name']} {s['env_steps']:,}" for s in arm["stages"])
        print(f"  {arm['arm']:{width}s}  {arm['kind']:18s} {arm['program']:7d} {arm['active_params']:8,d} "
              f"{arm['total_params']:8,d}  {stages}")
    return 0


def report(args: argparse.Namespace) -> int:
    from bootstrap_rl.report import write_report
    from bootstrap_rl.report.terminal import summary_of
    from bootstrap_rl.study.study_file import read_study_file

    if not (args.results / "study.json").exists():
        raise UsageError(f"{args.results} holds no study.json (not a `bootstrap-rl study` results directory)")
    read_study_file(args.results)  # a truncated or corrupt one is named, not a traceback
    write_report(args.results)
    print(summary_of(args.results))
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


if __name__ == "__main__":
    sys.exit(main())
