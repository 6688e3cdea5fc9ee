"""Where a run's wall time went: compilation, training and evaluation (``timing/<run>.json``).

Compile time is read from JAX's monitoring events (tracing, lowering, compiling, or fetching
from the persistent cache), so that a program compiled mid-run — a later seed chunk of
another size — is not counted as training or evaluation time.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import jax


class CompileClock:
    """Seconds spent tracing, lowering and compiling (or fetching from the persistent cache)
    since it was made, and the persistent-cache hits: from JAX's monitoring events."""

    _TIMED = ("/jax/core/compile/jaxpr_trace_duration", "/jax/core/compile/jaxpr_to_mlir_module_duration",
              "/jax/core/compile/backend_compile_duration")
    _totals = {"compile_s": 0.0, "persistent_cache_hits": 0}
    _listening = False

    def __init__(self):
        cls = type(self)
        if not cls._listening:
            def on_duration(event, duration, **kwargs):
                if event in cls._TIMED:
                    cls._totals["compile_s"] += duration

            def on_event(event, **kwargs):
                if event == "/jax/compilation_cache/cache_hits":
                    cls._totals["persistent_cache_hits"] += 1

            jax.monitoring.register_event_duration_secs_listener(on_duration)
            jax.monitoring.register_event_listener(on_event)
            cls._listening = True
        self.start = dict(cls._totals)

    def read(self) -> dict:
        return {name: type(self)._totals[name] - self.start[name] for name in self.start}


class RunTiming:
    """One run's timing record (``record``), added to by every seed chunk it trains.

    ``compile_and_first_chunk_s``: from the first chunk's start to the end of its first
    interval of updates; ``train_s``, ``eval_s``: the other intervals' and the evaluations'
    seconds, less compilation; ``chunks``: intervals of updates trained.
    """

    def __init__(self):
        self.compiling = CompileClock()
        self.record = {"compile_and_first_chunk_s": 0.0, "train_s": 0.0, "eval_s": 0.0, "chunks": 0}

    @contextmanager
    def training(self, chunk_start: float):
        """Time one interval of updates (``chunk_start``: when its seed chunk started)."""
        start, clock = time.perf_counter(), CompileClock()
        yield
        # A later seed chunk of another size compiles anew: that is not training time.
        elapsed = time.perf_counter() - start - clock.read()["compile_s"]
        if self.record["chunks"] == 0:
            self.record["compile_and_first_chunk_s"] = time.perf_counter() - chunk_start
        else:
            self.record["train_s"] += max(elapsed, 0.0)
        self.record["chunks"] += 1

    @contextmanager
    def evaluation(self):
        """Time one evaluation (until its results are on the host)."""
        start, clock = time.perf_counter(), CompileClock()
        yield
        self.record["eval_s"] += max(time.perf_counter() - start - clock.read()["compile_s"], 0.0)

    def padded(self, rows: int) -> None:
        """Note a seed chunk's padded batch rows (the largest is kept)."""
        self.record["padded_batch"] = max(self.record.get("padded_batch", 0), rows)
