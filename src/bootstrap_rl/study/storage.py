"""A study's results directory on disk: the parts of the tidy table, and seed-chunk files.

Every evaluation point of a run writes one CSV part, atomically: ``parts/<run>/NNNNN.csv``, with
the chunk tag of its seeds (``NNNNN.seeds<a>-<b>.csv``) when the run trains in seed chunks and
the writing process (``.p<process>``) when there is more than one. A finished chunk leaves
``parts/<run>/DONE.seeds<a>-<b>``, a finished run ``parts/<run>/DONE``. ``results.csv`` is every
part concatenated (:func:`consolidate`).
"""

from __future__ import annotations

import gc
import glob
import shutil
from pathlib import Path

import jax

from bootstrap_rl import results
from bootstrap_rl.schema import TABLE_COLUMNS
from bootstrap_rl.sharding import is_writer
from bootstrap_rl.study.errors import StudyError
from bootstrap_rl.study.plan import Run


def chunk_tag(first: int, stop: int, seeds: int) -> str:
    """The file-name tag of the seed chunk ``first ... stop-1``: '' for every seed (a run
    trained whole keeps the file names of an unchunked study)."""
    return "" if (first, stop) == (0, seeds) else f"seeds{first}-{stop - 1}"


def tag_of(name: str) -> str:
    """The chunk tag inside a file name (``00003.seeds0-3.p1.csv`` -> ``seeds0-3``), or ''."""
    return next((piece for piece in name.split(".")[1:] if piece.startswith("seeds")), "")


def tag_range(tag: str) -> tuple[int, int]:
    """The seeds ``(first, stop)`` of a chunk tag (``seeds0-3`` -> ``(0, 4)``)."""
    first, last = tag.removeprefix("seeds").split("-")
    return int(first), int(last) + 1


def finished_chunks(out: Path, run: Run) -> dict[int, int]:
    """The seed chunks of ``run`` marked done, as ``{first: stop}``."""
    return dict(tag_range(path.name.removeprefix("DONE.")) for path in (out / "parts" / run.slug).glob("DONE.seeds*"))


class PartWriter:
    """Rows of one run's seeds ``first ... stop-1`` (all of them unless the run is trained in
    seed chunks), one atomically written CSV per evaluation point."""

    def __init__(self, out: Path, run: Run, seeds: int, first: int = 0, stop: int | None = None,
                 experiment_log=None):
        self.dir = out / "parts" / run.slug
        self.experiment_log = experiment_log  # an ExperimentLog that gets every part's rows, or None
        self.run, self.seeds = run, seeds
        self.first, self.stop = first, seeds if stop is None else stop
        self.tag = chunk_tag(self.first, self.stop, seeds)
        self.dir.mkdir(parents=True, exist_ok=True)

    def part(self, point: int) -> Path:
        """This process's file of one evaluation point (one file per point in one process)."""
        tag = f".{self.tag}" if self.tag else ""
        if jax.process_count() == 1:
            return self.dir / f"{point:05d}{tag}.csv"
        return self.dir / f"{point:05d}{tag}.p{jax.process_index()}.csv"

    def write(self, point: int, rows: list[tuple]) -> None:
        """Write one evaluation point's rows (tuples in :data:`TABLE_COLUMNS` order)."""
        import pandas as pd

        if not rows:  # a process whose devices hold only padding rows
            return
        frame = pd.DataFrame(rows, columns=TABLE_COLUMNS)
        path = self.part(point)
        try:
            results.write_text(path, frame.to_csv(index=False))
        except OSError as error:  # a full disk: earlier parts stay, and --resume continues from them
            raise StudyError(f"{path}: cannot write ({error.strerror or error}); the parts written before it are "
                             "kept: make room, then run again with --resume") from None
        if self.experiment_log is not None:  # the rows of results.csv, once they are on disk
            self.experiment_log.write(rows)

    def drop_after(self, point: int) -> None:
        """Remove every process's parts of these seeds past ``point``."""
        for path in self.dir.glob("*.csv"):
            if tag_of(path.name) == self.tag and int(path.name.split(".")[0]) > point:
                path.unlink(missing_ok=True)

    def drop_unfinished(self, finished: set[str]) -> None:
        """Remove the parts of every seed chunk not in ``finished`` (tags): what an attempt
        that ran out of memory, or was killed before it saved a state, left behind."""
        for path in self.dir.glob("*.csv"):
            if tag_of(path.name) not in finished:
                path.unlink(missing_ok=True)

    def member_seed(self) -> list[tuple[str, int]]:
        """(arm, seed) for every row of the vmapped batch, in batch order."""
        return [(arm, seed) for arm in self.run.arms for seed in range(self.first, self.stop)]


def resume_path(out: Path, run: Run, tag: str) -> Path:
    """Where the resume state of ``run``'s seed chunk ``tag`` ('' : every seed) is saved."""
    return out / "resume" / (f"{run.slug}.{tag}.npz" if tag else f"{run.slug}.npz")


def saved_chunk(out: Path, run: Run, first: int, seeds: int) -> int | None:
    """The end of the chunk from seed ``first`` whose training state is saved, if one is."""
    if first == 0 and resume_path(out, run, "").exists():
        return seeds
    for path in (out / "resume").glob(f"{glob.escape(run.slug)}.seeds{first}-*.npz"):
        return tag_range(tag_of(path.name.removeprefix(run.slug)))[1]
    return None


def discard_chunk(out: Path, run: Run, first: int, stop: int, seeds: int) -> None:
    """Forget an attempt at seeds ``first ... stop-1`` (its rows and saved state), to be
    trained again in smaller chunks."""
    if is_writer():
        PartWriter(out, run, seeds, first, stop).drop_after(-1)
        resume_path(out, run, chunk_tag(first, stop, seeds)).unlink(missing_ok=True)
    gc.collect()  # the failed attempt's device buffers


def clear_chunks(out: Path, run: Run) -> None:
    """Remove the per-chunk markers and checkpoints of a finished run (merged by then)."""
    for path in (out / "parts" / run.slug).glob("DONE.seeds*"):
        path.unlink(missing_ok=True)
    for path in (out / "resume").glob(f"{glob.escape(run.slug)}.seeds*.npz"):  # left by a crash after DONE
        path.unlink(missing_ok=True)
    folder = out / "checkpoints" / run.slug
    if folder.exists():
        for path in folder.iterdir():
            if tag_of(path.name):
                shutil.rmtree(path, ignore_errors=True)


def consolidate(out: str | Path) -> Path:
    """Concatenate every part into ``results.csv`` (atomically) and return its path."""
    import pandas as pd

    out = Path(out)
    parts = sorted((out / "parts").glob("*/*.csv"))
    frames = [pd.read_csv(p) for p in parts]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=TABLE_COLUMNS)
    return results.write_text(out / "results.csv", table.to_csv(index=False))


def read_results(out: str | Path):
    """The study's tidy table (``results.csv``, or the parts written so far) as a DataFrame."""
    import pandas as pd

    out = Path(out)
    if (out / "results.csv").exists():
        return pd.read_csv(out / "results.csv")
    parts = sorted((out / "parts").glob("*/*.csv"))
    if not parts:
        return pd.DataFrame(columns=TABLE_COLUMNS)
    return pd.concat([pd.read_csv(p) for p in parts], ignore_index=True)
