"""Progress displays for long runs.

:class:`StudyProgress` is a study's one display: arms done, env steps done of the study's
total, env steps per second and the time left, on one line that rewrites itself (``\\r``) in a
terminal and that becomes a plain line every ``every_s`` seconds in a log (a stream that is not
a TTY). Compilation phases get a line of their own. :class:`ProgressBar` is ``bootstrap-rl
train``'s tqdm bar.

The rate counts only seconds spent training and evaluating (compilation is excluded: the first
chunk of a program is mostly compiling), so the time left is ``env steps left / rate`` plus, for
every program not compiled yet, the mean compile time of those compiled so far.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


def _no_compiling() -> dict:
    return {"compile_s": 0.0, "persistent_cache_hits": 0}


def count(n: float) -> str:
    """A count in three significant figures: 950, 12.3k, 1.23M, 4.56G."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.3g}{unit}"
    return f"{n:.0f}"


def duration(seconds: float) -> str:
    """Seconds as ``m:ss`` or ``h:mm:ss``."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class StudyProgress:
    """A study's progress: ``arms`` arms in all, ``env_steps`` env steps in all (every arm and
    seed), ``programs`` distinct compiled programs.

    The study calls :meth:`start_run` before each run (a group of arms sharing one program),
    :meth:`advance` after each interval of updates, :meth:`finish_run` after each run and
    :meth:`close` at the end; :meth:`skip` counts work done before a resume (not in the rate).
    ``clock`` (seconds) and ``compiled`` (a :class:`bootstrap_rl.study.timing.CompileClock`'s
    ``read``: compile seconds and persistent-cache hits so far) are injectable for tests.
    """

    def __init__(self, arms: int, env_steps: int, programs: int, *, stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic, compiled: Callable[[], dict] = _no_compiling,
                 every_s: float = 30.0, tty: bool | None = None):
        self.arms, self.env_steps, self.programs = arms, env_steps, programs
        self.stream = sys.stderr if stream is None else stream
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)()) if tty is None else tty
        self.clock, self.compiled, self.every_s = clock, compiled, every_s
        self.arms_done = 0
        self.steps_done = 0  # in the study, resumed work included
        self.steps_timed = 0  # trained here, over ``seconds_timed``
        self.programs_compiled = 0
        self.start = self.last_line = clock()
        self.compile_start = self.compiled()
        self.compiling: tuple[str, dict] | None = None  # (what, compile counters when it began)
        self.drawn = False  # a \r line is on the terminal now
        self.shown = False  # the line has been drawn before (so it is drawn again after a message)

    # --- what the study reports -------------------------------------------------------------
    def start_run(self, label: str, arms: int, compiles: bool) -> None:
        """A run of ``arms`` arms starts; ``compiles``: it is the first run of its program."""
        if compiles:
            self.programs_compiled += 1
            what = f"program {self.programs_compiled}/{self.programs}"
            self.compiling = (what, self.compiled())
            self.say(f"compiling {what} ({label}) ...")

    def advance(self, env_steps: int) -> None:
        """``env_steps`` more env steps trained (over every seed of the batch)."""
        self.steps_done = min(self.steps_done + env_steps, self.env_steps)
        self.steps_timed += env_steps
        if self.compiling is not None:  # the first interval of a new program: it compiled
            what, before = self.compiling
            now = self.compiled()
            seconds = now["compile_s"] - before["compile_s"]
            hits = now["persistent_cache_hits"] - before["persistent_cache_hits"]
            cached = f", {hits} from the persistent cache" if hits else ""
            self.compiling = None
            self.say(f"compiled {what} in {seconds:.0f} s{cached}")
        self._show()

    def finish_run(self, arms: int) -> None:
        self.arms_done = min(self.arms_done + arms, self.arms)
        self._show()

    def skip(self, *, arms: int = 0, env_steps: int = 0) -> None:
        """Work done before a resume: counted as done, not in the rate."""
        self.arms_done = min(self.arms_done + arms, self.arms)
        self.steps_done = min(self.steps_done + env_steps, self.env_steps)

    def close(self) -> None:
        """The last state, as a line of its own."""
        self._clear()
        self.stream.write(self.line() + "\n")
        self.stream.flush()

    # --- numbers ----------------------------------------------------------------------------
    def seconds_compiling(self) -> float:
        return self.compiled()["compile_s"] - self.compile_start["compile_s"]

    def rate(self) -> float | None:
        """Env steps per second of training and evaluation (compilation excluded); None before
        any interval has been timed."""
        seconds = self.clock() - self.start - self.seconds_compiling()
        if self.steps_timed == 0 or seconds <= 0:
            return None
        return self.steps_timed / seconds

    def seconds_left(self) -> float | None:
        """Env steps left at :meth:`rate`, plus the mean compile time so far for every program
        yet to compile; None without a rate."""
        rate = self.rate()
        if rate is None:
            return None
        compiled = max(self.programs_compiled, 1)
        to_compile = max(self.programs - self.programs_compiled, 0) * self.seconds_compiling() / compiled
        return (self.env_steps - self.steps_done) / rate + to_compile

    def line(self) -> str:
        """``arms 3/9 | env steps 1.23M/2.95M (42%) | 12.3k env steps/s | 2:26 left``."""
        rate, left = self.rate(), self.seconds_left()
        share = 100 * self.steps_done / self.env_steps if self.env_steps else 100.0
        return (f"arms {self.arms_done}/{self.arms} | env steps {count(self.steps_done)}/{count(self.env_steps)} "
                f"({share:.0f}%) | {'?' if rate is None else count(rate)} env steps/s | "
                f"{'?' if left is None else duration(left)} left")

    # --- drawing ----------------------------------------------------------------------------
    def say(self, text: str) -> None:
        """A line of its own (above the progress line in a terminal)."""
        self._clear()
        self.stream.write(text + "\n")
        self.stream.flush()
        self._redraw()

    def wrap(self, log: Callable[[str], None]) -> Callable[[str], None]:
        """``log`` that clears the progress line first and redraws it after, so that the
        study's own messages (on another stream to the same terminal) do not tear it."""
        if not self.tty:
            return log

        def wrapped(text: str) -> None:
            self._clear()
            log(text)
            self._redraw()

        return wrapped

    def _show(self) -> None:
        if self.tty:
            self._redraw(force=True)
        elif self.clock() - self.last_line >= self.every_s:
            self.last_line = self.clock()
            self.stream.write(self.line() + "\n")
            self.stream.flush()

    def _redraw(self, force: bool = False) -> None:
        if self.tty and (self.shown or force):
            self.stream.write("\r\x1b[K" + self.line())
            self.stream.flush()
            self.drawn = self.shown = True

    def _clear(self) -> None:
        if self.tty and self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.drawn = False


class ProgressBar:
    """tqdm over env steps per seed, with env steps/s over all seeds after the first chunk."""

    def __init__(self, steps_per_seed: int, seeds: int):
        from tqdm import tqdm

        self.seeds = seeds
        # tqdm's own rate and ETA would count compilation, so the bar shows ours instead.
        self.bar = tqdm(total=steps_per_seed, unit_scale=True, desc="env steps/seed",
                        bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]",
                        dynamic_ncols=True)
        self.first = None

    def advance(self, env_steps_per_update: int):
        """A ``runner.run`` progress callback ``(updates_done, seconds)``."""

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
