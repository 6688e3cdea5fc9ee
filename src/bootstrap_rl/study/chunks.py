"""A run's seeds, trained whole or in sequential chunks, and what happens when they do not fit.

A run trains its seeds as one batch, or in chunks of ``seed_chunk`` seeds (as asked, or as a
batch of its program did not fit in device memory before, or as its chunks finished before a
resume did). A chunk that runs out of device memory is discarded and its seeds trained again in
chunks with about half the rows per device (:func:`smaller_chunk`), with a message saying so; a
single seed that does not fit, or a multi-process study (whose processes cannot agree on a new
size after one has failed), stops with a :class:`StudyError` saying what to change. Keys are per
seed, so chunks give the numbers of one batch up to float rounding; the chunks' checkpoints are
merged into the unchunked layout once the run is done.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import jax
import numpy as np

from bootstrap_rl import checkpoint, results, sharding
from bootstrap_rl.curriculum import Curriculum
from bootstrap_rl.sharding import barrier, is_writer
from bootstrap_rl.study.errors import StudyError
from bootstrap_rl.study.inputs import run_inputs
from bootstrap_rl.study.loop import ChunkTrainer, RunJob
from bootstrap_rl.study.plan import Run
from bootstrap_rl.study.programs import RunPrograms
from bootstrap_rl.study.resume import batch_rows
from bootstrap_rl.study.storage import (chunk_tag, clear_chunks, discard_chunk, finished_chunks, resume_path,
                                        saved_chunk)
from bootstrap_rl.study.timing import RunTiming


def train_run(
    curriculum: Curriculum,
    run: Run,
    programs: RunPrograms,
    out: Path,
    seeds: int,
    root: jax.Array,
    *,
    resume: bool,
    checkpoint_seconds: float,
    log: Callable[[str], None],
    seed_chunk: int | None = None,
    fits: dict | None = None,
    progress=None,
    experiment_log=None,
) -> dict:
    """Train, evaluate and record one run; resumable at any saved evaluation point. Returns
    its timing record ({} if it was complete already).

    The seeds train together, or in sequential chunks of ``seed_chunk`` seeds; when a batch
    runs out of device memory (one process), in chunks of half as many rows per device, with
    a message saying so. Chunks finished before are kept (and, resuming, a chunk in progress
    continues at its own size). ``fits``: batch rows known to fit, per :class:`Programs`,
    shared by the runs of a study so that runs of one program do not each run out of memory
    first. ``progress``: a :class:`~bootstrap_rl.progress.StudyProgress` to advance, or None.
    ``experiment_log``: an :class:`~bootstrap_rl.experiment_log.ExperimentLog` that
    gets every part's rows.

    Every process of a distributed study calls it: each trains and writes the rows of its own
    devices, process 0 writes checkpoints, the resume state and the timing."""
    parts = out / "parts" / run.slug
    if (parts / "DONE").exists():
        log(f"{run.slug}: already complete")
        if progress is not None:
            progress.skip(env_steps=len(run.arms) * seeds * run.budget)
        if is_writer():
            clear_chunks(out, run)
        return {}
    parts.mkdir(parents=True, exist_ok=True)
    job = RunJob(curriculum, run, programs, out, seeds, root, checkpoint_seconds, log, progress=progress,
                 experiment_log=experiment_log)
    finished = finished_chunks(out, run)
    size = _chunk_size(job, seed_chunk, fits, finished)
    timing = RunTiming()
    trained, did_not_fit = _train_chunks(job, size, finished, resume=resume, seed_chunk=seed_chunk, fits=fits,
                                         timing=timing)
    chunks = sorted(finished.items())
    if chunks != [(0, seeds)]:
        merge_checkpoints(job, chunks)
    record = _timing_record(job, timing, chunks, trained, did_not_fit)
    if is_writer():
        results.write_json(out / "timing" / f"{run.slug}.json", record)
        (parts / "DONE").write_text("")
        resume_path(out, run, "").unlink(missing_ok=True)
        clear_chunks(out, run)
    barrier(f"{run.slug}: done")
    return record


def _chunk_size(job: RunJob, seed_chunk: int | None, fits: dict | None, finished: dict[int, int]) -> int:
    """Seeds per chunk to start with: all of them, or fewer (as asked, as a batch of this
    program did not fit before, or as the chunks finished before a resume), said in the log."""
    seeds, members, program = job.seeds, len(job.run.arms), job.programs.programs
    size, why = seeds, ""
    if seed_chunk is not None and seed_chunk < seeds:
        size, why = seed_chunk, "as asked"
    if fits is not None and program in fits and fits[program] // members < size:
        size, why = max(1, fits[program] // members), "as a batch of its program did not fit in device memory"
    largest = max((stop - first for first, stop in finished.items()), default=size)
    if seed_chunk is None and largest < size:
        size, why = largest, "as its finished chunks"
    if size < seeds:
        uneven = "" if seeds % size == 0 else (f"; the last chunk ({seeds % size} seeds) compiles its own "
                                               "programs (a chunk size dividing the seeds avoids it)")
        job.log(f"{job.run.label}: {seeds} seeds in chunks of {size}, {why}{uneven}")
    return size


def _train_chunks(job: RunJob, size: int, finished: dict[int, int], *, resume: bool, seed_chunk: int | None,
                  fits: dict | None, timing: RunTiming) -> tuple[list[tuple[int, int]], list[int]]:
    """Train every chunk of seeds not ``finished`` (which it adds to), in order; a chunk that
    does not fit in device memory again in smaller chunks. Returns the chunks trained and the
    sizes that did not fit."""
    trained, did_not_fit, first = [], [], 0
    while first < job.seeds:
        if first in finished:
            first = finished[first]
            continue
        saved = _saved_stop(job, first, resume, seed_chunk)
        stop = saved or min(first + size, job.seeds)
        smaller = _attempt(job, first, stop, resumed=saved is not None, finished=finished, timing=timing)
        if smaller is None:
            trained.append((first, stop))
            finished[first] = stop
            first = stop
            continue
        did_not_fit.append(stop - first)
        discard_chunk(job.out, job.run, first, stop, job.seeds)
        size = smaller
        if fits is not None:
            fits[job.programs.programs] = len(job.run.arms) * smaller
    return trained, did_not_fit


def _saved_stop(job: RunJob, first: int, resume: bool, seed_chunk: int | None) -> int | None:
    """The end of the chunk from seed ``first`` to resume (its state is saved), if any. A
    saved chunk larger than ``seed_chunk`` is discarded, to be trained again in smaller ones."""
    saved = saved_chunk(job.out, job.run, first, job.seeds) if resume else None
    if saved is not None and seed_chunk is not None and saved - first > seed_chunk:
        job.log(f"{job.run.label}: the saved state of seeds {first}-{saved - 1} holds more than --seed-chunk "
                f"{seed_chunk} seeds; training them again in chunks of {seed_chunk}")
        discard_chunk(job.out, job.run, first, saved, job.seeds)
        return None
    return saved


def _attempt(job: RunJob, first: int, stop: int, *, resumed: bool, finished: dict[int, int],
             timing: RunTiming) -> int | None:
    """Train seeds ``first ... stop-1``: None once trained, or the smaller chunk size to try
    after running out of device memory. The error (whose traceback holds the batch) is gone
    once this returns, so the caller can free the attempt's buffers."""
    tags = frozenset(chunk_tag(a, b, job.seeds) for a, b in finished.items())
    try:
        ChunkTrainer(job, first, stop, timing).train(resumed, tags)
    except Exception as error:
        if not out_of_memory(error):
            raise
        return _smaller_after_out_of_memory(job, stop - first, error)
    return None


def _smaller_after_out_of_memory(job: RunJob, count: int, error: Exception) -> int:
    """The chunk size to try after ``count`` seeds ran out of device memory, or a
    :class:`StudyError` saying what to change when none can be had here."""
    members, devices, name = len(job.run.arms), job.programs.layout.devices, job.run.label
    smaller = smaller_chunk(count, members, devices)
    rows = members * count
    if smaller is None:
        raise StudyError(
            f"{name}: {count} seed(s) ({rows} batch rows, {-(-rows // devices)} per device) "
            "do not fit in device memory, and fewer rows per device cannot be had by chunking seeds; "
            f"use fewer envs (learner.num_envs) or steps per update. {type(error).__name__}: {error}"
        ) from error
    if jax.process_count() > 1:  # the processes cannot agree on it after one has failed
        raise StudyError(
            f"{name}: {count} seeds do not fit in device memory; a multi-process study does "
            f"not chunk them by itself: rerun every process with --resume --seed-chunk {smaller}"
        ) from error
    job.log(f"{name}: {count} seeds do not fit in device memory; running in chunks of {smaller}")
    return smaller


def out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is XLA failing to get device memory (when compiling or running)."""
    text = str(error)
    return isinstance(error, RuntimeError) and ("RESOURCE_EXHAUSTED" in text or "out of memory" in text.lower())


def smaller_chunk(chunk: int, members: int, devices: int) -> int | None:
    """Seeds per chunk with about half the batch rows per device of ``chunk`` seeds, a
    multiple of the device count where it can be (the rest is padded); None when no chunk of
    seeds has fewer rows per device (one row per device, or one seed's members)."""
    per_device = -(-members * chunk // devices)
    smaller = max(1, per_device // 2 * devices // members)
    if smaller >= chunk or -(-members * smaller // devices) >= per_device:
        return None
    return smaller


def merge_checkpoints(job: RunJob, chunks: list[tuple[int, int]]) -> None:
    """One checkpoint of every seed per stage, as an unchunked run writes it, from the
    checkpoints of the seed chunks (rows: members, then seeds). Every process calls it."""
    run, members, seeds = job.run, len(job.run.arms), job.seeds
    first, stop = chunks[0]
    inputs = run_inputs(job.curriculum, run, stop - first, job.root, job.programs.layout, first)
    shapes = job.programs.acting_shapes(job.programs.state_shapes(run, inputs))
    folder = job.out / "checkpoints" / run.slug
    for stage, (stage_name, _) in enumerate(run.schedule):
        pieces = [checkpoint.restore(folder / f"{stage}_{stage_name}.{chunk_tag(a, b, seeds)}",
                                     batch_rows(shapes, members * (b - a))) for a, b in chunks]
        checkpoint.save(folder / f"{stage}_{stage_name}", jax.tree.map(partial(_merge_rows, members, seeds), *pieces))


def _merge_rows(members: int, seeds: int, *leaves) -> np.ndarray:
    """One leaf of every chunk (rows: members, then the chunk's seeds) as one of every seed."""
    per_member = [np.asarray(x).reshape(members, -1, *x.shape[1:]) for x in leaves]
    return np.concatenate(per_member, axis=1).reshape(members * seeds, *leaves[0].shape[1:])


def _timing_record(job: RunJob, timing: RunTiming, chunks: list[tuple[int, int]], trained: list[tuple[int, int]],
                   did_not_fit: list[int]) -> dict:
    """The run's ``timing/<run>.json``: seconds, compilation, devices, batch and chunks."""
    layout, batch = job.programs.layout, len(job.run.arms) * job.seeds
    record = timing.record
    record.update(timing.compiling.read())
    record.update(devices=layout.devices, processes=jax.process_count(), batch=batch,
                  padded_batch=record.get("padded_batch", layout.padded(batch)),
                  seed_chunk=None if chunks == [(0, job.seeds)] else max(b - a for a, b in chunks),
                  seed_chunks_trained=[list(chunk) for chunk in trained], did_not_fit=did_not_fit,
                  peak_device_memory_bytes=sharding.peak_memory_bytes())
    return record
