"""``run_study``: a study from its checks to ``results.csv``.

Check the arguments, lock the results directory and check it, expand the arms into runs, build
every run's programs, trace them all (:mod:`~bootstrap_rl.study.preflight`), write
``study.json``, train each run (:func:`~bootstrap_rl.study.chunks.train_run`), and concatenate
the parts.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import jax

from bootstrap_rl._curriculum.overrides import overrides_of
from bootstrap_rl.compilation_cache import enable as enable_compilation_cache
from bootstrap_rl.curriculum import Curriculum
from bootstrap_rl.experiment_log import ExperimentLog, make_experiment_log
from bootstrap_rl.progress import StudyProgress
from bootstrap_rl.sharding import Layout, barrier, is_writer
from bootstrap_rl.study.chunks import train_run
from bootstrap_rl.study.errors import StudyError, positive_count
from bootstrap_rl.study.lock import study_lock
from bootstrap_rl.study.plan import expand_runs, resolved_config
from bootstrap_rl.study.preflight import preflight_study
from bootstrap_rl.study.programs import RunPrograms, programs_for_runs
from bootstrap_rl.study.resume import check_resume_files
from bootstrap_rl.study.storage import consolidate
from bootstrap_rl.study.timing import CompileClock
from bootstrap_rl.study.study_file import arm_records, check_out_dir, write_study_file


def run_study(
    curriculum: Curriculum,
    out_dir: str | Path,
    *,
    seeds: int | None = None,
    root_seed: int = 0,
    resume: bool = False,
    checkpoint_seconds: float = 60.0,
    log: Callable[[str], None] = print,
    devices: int | None = None,
    compilation_cache: str | Path | None = None,
    seed_chunk: int | None = None,
    progress: bool = True,
    experiment_log: str | Sequence[str] | ExperimentLog | None = None,
    keep_programs: bool = False,
) -> Path:
    """Train every arm of ``curriculum`` and write the results directory ``out_dir``.

    ``resume=True`` continues a study interrupted in ``out_dir`` (which must have been
    started with the same configuration and the same overrides); without it, ``out_dir`` must
    not hold a study. One study at a time holds ``out_dir`` (:mod:`~bootstrap_rl.study.lock`).
    The learner state is saved at every stage boundary and at most every
    ``checkpoint_seconds`` otherwise. Returns the path of ``results.csv``.

    Seeds and D:prodigy grid arms are sharded over the first ``devices`` of ``jax.devices()``
    (default: all of them, every device of every process once ``jax.distributed`` is initialised; see
    :mod:`bootstrap_rl.sharding`). In a distributed study every process calls ``run_study``
    with the same arguments and ``out_dir`` on a shared file system.
    ``compilation_cache``: a folder for JAX's persistent compilation cache (programs compiled
    once are loaded from it by later studies and processes).

    ``seed_chunk``: train at most this many seeds of a run at once (the rest after, in
    sequential chunks). Without it, a run whose batch does not fit in device memory is split
    by itself (in a single-process study), with a message: chunks of seeds get the same keys
    as in one batch, so the table is the same up to float rounding.

    ``progress``: show arms and env steps done, env steps per second and the time left on
    stderr (:class:`~bootstrap_rl.progress.StudyProgress`; process 0 only).
    ``experiment_log``: ``'tensorboard'``, ``'wandb'`` (or both, or an
    :class:`~bootstrap_rl.experiment_log.ExperimentLog`): every row of ``results.csv`` also
    goes there as it is written, one logged run per arm x seed (:mod:`bootstrap_rl.experiment_log`).

    ``keep_programs``: keep the compiled programs on the ``curriculum`` object, so that a later
    ``run_study(..., keep_programs=True)`` on the same object in this process (a resume, a second
    run in a notebook) neither traces nor compiles them again. Off by default: kept programs
    stay in memory while the object lives (a curriculum loaded by name lives as long as the
    process), and code edited since they were traced (``%autoreload``) does not reach them.
    """
    if compilation_cache is not None:
        enable_compilation_cache(compilation_cache)
    try:
        layout = Layout.over(devices)
    except ValueError as error:
        raise StudyError(str(error)) from None
    seeds = positive_count(curriculum.seeds if seeds is None else seeds, "seeds")
    if seed_chunk is not None:
        seed_chunk = positive_count(seed_chunk, "seed_chunk")
    out = Path(out_dir)
    config = json.loads(json.dumps(resolved_config(curriculum, seeds, root_seed), default=str))
    overrides = overrides_of(curriculum)
    # Process 0 holds the directory's lock for the whole study; the others follow it.
    with study_lock(out) if is_writer() else contextlib.nullcontext():
        seed_chunk = check_out_dir(out, config, resume=resume, seed_chunk=seed_chunk, log=log, overrides=overrides)
        if resume:
            check_resume_files(out)  # a damaged file stops the study before anything compiles
        barrier("study: checked")  # every process has looked at out_dir before process 0 writes in it
        sink = make_experiment_log(experiment_log, out, config={"study": config, "overrides": overrides})
        try:
            return _train_study(curriculum, out, config, layout, seeds, root_seed, resume=resume,
                                checkpoint_seconds=checkpoint_seconds, log=log, seed_chunk=seed_chunk,
                                overrides=overrides, experiment_log=sink, progress=progress,
                                keep_programs=keep_programs)
        finally:
            if sink is not None:
                sink.close()


def _train_study(curriculum: Curriculum, out: Path, config: dict, layout: Layout, seeds: int, root_seed: int, *,
                 resume: bool, checkpoint_seconds: float, log: Callable[[str], None], seed_chunk: int | None,
                 overrides: dict, experiment_log: ExperimentLog | None, progress: bool,
                 keep_programs: bool) -> Path:
    """Plan, compile and check every program, write ``study.json``, train every run, and
    concatenate the parts."""
    runs = expand_runs(curriculum)
    programs = programs_for_runs(curriculum, runs, layout, keep=keep_programs)
    root = jax.random.PRNGKey(root_seed)
    preflight_study(curriculum, runs, programs, seeds, root)
    if is_writer():
        write_study_file(out, curriculum, config, arm_records(curriculum, runs, programs), seeds=seeds,
                         root_seed=root_seed, devices=layout.devices, seed_chunk=seed_chunk, overrides=overrides)
    else:
        log = lambda line: None  # noqa: E731 — process 0 reports progress
    display = study_progress(runs, programs, seeds) if progress and is_writer() else None
    if display is not None:
        log = display.wrap(log)
    fits: dict = {}  # batch rows that fit in device memory, per Programs, once one ran out
    compiled: set = set()  # the Programs a run has used already
    for run in runs:
        log(f"{run.slug}: {len(run.arms)} arm(s) x {seeds} seeds, {run.budget:,} env steps each"
            + (f", on {layout.devices} devices" if layout.devices > 1 else ""))
        if display is not None:
            display.start_run(run.label, len(run.arms), compiles=programs[run.slug].programs not in compiled)
        compiled.add(programs[run.slug].programs)
        train_run(curriculum, run, programs[run.slug], out, seeds, root, resume=resume,
                  checkpoint_seconds=checkpoint_seconds, log=log, seed_chunk=seed_chunk, fits=fits,
                  progress=display, experiment_log=experiment_log)
        if display is not None:
            display.finish_run(len(run.arms))
    if display is not None:
        display.close()
    table = out / "results.csv"
    if is_writer():
        table = consolidate(out)
    barrier("study: consolidated")
    return table


def study_progress(runs: list, programs: dict[str, RunPrograms], seeds: int) -> StudyProgress:
    """The study's progress display, after a line saying what it will train and compile."""
    arms = sum(len(run.arms) for run in runs)
    steps = sum(len(run.arms) * seeds * run.budget for run in runs)
    distinct = len({bound.programs for bound in programs.values()})
    display = StudyProgress(arms, steps, distinct, compiled=CompileClock().read)
    display.say(f"study: {arms} arms x {seeds} seeds, {steps:,} env steps in all, {distinct} compiled "
                f"program{'s' if distinct != 1 else ''} (each compiled when its first arm starts)")
    return display
