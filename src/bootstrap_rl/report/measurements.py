"""The report's typed per-arm measurements, descriptive and outside the verdict family:
retention and policy drift on the childhood stages, plasticity, the managers' diagnostics and
the compute each run took. Typed like :mod:`bootstrap_rl.report.results` (``to_json``,
``as_row``)."""

from __future__ import annotations

from dataclasses import dataclass

from bootstrap_rl.report.results import Estimate, _bounds, _Result


@dataclass(frozen=True)
class RetentionSummary(_Result):
    """One arm on one childhood stage's split (descriptive): the final-window IQM of its score
    there, and of its policy drift (mean KL from the policy at the end of that stage) where
    recorded (None otherwise)."""

    arm: str
    split: str
    score: Estimate
    policy_kl: Estimate | None

    def as_row(self) -> dict:
        kl = self.policy_kl or Estimate()
        return {"arm": self.arm, "split": self.split, "seeds": self.score.runs,
                "final IQM": self.score.estimate, "final low": self.score.ci_low,
                "final high": self.score.ci_high, "policy KL": kl.estimate,
                "policy KL low": kl.ci_low, "policy KL high": kl.ci_high}


@dataclass(frozen=True)
class RetentionDifference(_Result):
    """An arm's final-window score on a childhood split minus the reference's (``direct``,
    which never trained there), paired by seed, with the sign-flip interval
    (``stats.retention_vs_baseline``). Descriptive: not in the verdict family."""

    arm: str
    reference: str
    split: str
    difference: object  # stats.PairedDifference

    def as_row(self) -> dict:
        d = self.difference
        low, high, _ = _bounds(d.interval)
        return {"arm": self.arm, "reference": self.reference, "split": self.split,
                "paired seeds": d.n, "difference": d.mean, "low": low, "high": high}


@dataclass(frozen=True)
class PlasticitySummary(_Result):
    """One arm's plasticity metric (``bootstrap_rl.plasticity``), mean over seeds: where the
    adult stage starts and at the last evaluation point. Descriptive."""

    arm: str
    metric: str
    seeds: int
    adult_start: float
    final: float


@dataclass(frozen=True)
class DiagnosticSummary(_Result):
    """One arm's manager diagnostic (``ManagerReport.diagnostics``) in one stage, mean over
    seeds: at the stage's last evaluation point, and the largest magnitude (signed) any point
    of the stage showed. Descriptive: evidence that the method acted."""

    arm: str
    metric: str
    stage: str
    seeds: int
    last: float
    peak: float


@dataclass(frozen=True)
class Retention(_Result):
    """Retention and drift per arm and childhood stage, and retention against ``direct``."""

    summaries: tuple[RetentionSummary, ...]
    vs_direct: tuple[RetentionDifference, ...]

    def to_json(self) -> dict:
        return {"descriptive": True, "summaries": [r.to_json() for r in self.summaries],
                "vs_direct": [r.to_json() for r in self.vs_direct]}


@dataclass(frozen=True)
class Compute(_Result):
    """One compiled run's timing (``timing/<run>.json``) and the arms it trained."""

    run: str
    arms: tuple[str, ...]
    compile_s: float | None = None
    compile_and_first_chunk_s: float | None = None
    train_s: float | None = None
    eval_s: float | None = None
    persistent_cache_hits: int | None = None
    devices: int | None = None
    processes: int | None = None
    batch: int | None = None
    padded_batch: int | None = None
    seed_chunk: int | None = None
    peak_device_memory_bytes: int | None = None

    def as_row(self) -> dict:
        return {**self.to_json(), "arms": ", ".join(self.arms)}
