"""The results schema, defined once: the tidy table's columns and ``study.json``'s arm record.

The study writes them, the report and notebooks read them, ``train`` writes the same table
(its ``arm`` is the run's name, its ``stage`` and ``split`` are ``train``), and the tests
check against them. A column or field changes here or nowhere.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

# One row per (arm, seed, stage, env_steps, split, metric), value a float. ``split`` is
# ``train`` for training metrics averaged over the evaluation interval, else the name of the
# stage whose tasks were evaluated.
TABLE_COLUMNS = ("arm", "seed", "stage", "env_steps", "split", "metric", "value")
TRAIN_SPLIT = "train"
# direct: the adult task, whole budget; curriculum: the stages, then the adult task, no manager;
# childhood: the stages with a management method; direct_adult_steps: the adult task for the
# adult stage's steps only (the sunk-cost reference); grid: a D:prodigy grid configuration.
# The controls (``Curriculum.controls``): direct_managed: a method on the adult task alone
# (``direct+<method>``); order_control: the childhood in another order or mixed
# (``curriculum/shuffled``, ``curriculum/mixed``); plasticity_control: the curriculum arm
# shrunk and perturbed at the adult stage (``curriculum/shrink_perturb``); capacity_control: a
# direct arm as wide as a childhood arm's acting network (``direct/width=<w>``).
ARM_KINDS = ("direct", "curriculum", "childhood", "direct_adult_steps", "grid", "direct_managed", "order_control",
             "plasticity_control", "capacity_control", "ued")
# Rows of this split are measurements of the network itself at an evaluation point
# (``bootstrap_rl.plasticity``), not of any task.
NETWORK_SPLIT = "network"
# Rows of this split are a manager's diagnostics (``ManagerReport.diagnostics``: what the
# method did, e.g. metric ``mixing/coef_shift``), averaged over the interval's updates.
MANAGER_SPLIT = "manager"


@dataclass(frozen=True)
class StageSpan:
    """Where a stage lies in an arm's budget, in env steps: ``(start, end]``."""

    name: str
    start_env_steps: int
    end_env_steps: int


@dataclass(frozen=True)
class ArmRecord:
    """One arm as ``study.json`` records it."""

    name: str  # e.g. direct, curriculum, childhood/route, grid/lr=...
    kind: str  # one of ARM_KINDS
    run: str  # the compiled run (folder name) that trains it; arms of one run share a batch
    method: str | None
    budget_env_steps: int
    param_count: int  # trainable parameters of the network that acts
    learners_per_seed: int  # learners trained per seed (a PBT method's members)
    active_param_count: int | None = None  # of those, what the acting policy uses (planned)
    note: str = ""  # what a control arm controls for
    matches: tuple[str, ...] = ()  # a capacity control: the arms whose active parameters it matches
    stages: tuple[StageSpan, ...] = ()
    hparams: dict | None = None  # a D:prodigy grid member's learning rate and entropy coefficient
    extra: dict = field(default_factory=dict)  # fields a later schema adds, kept on round trips

    def to_json(self) -> dict:
        record = asdict(self)
        record["stages"] = [asdict(s) for s in self.stages]
        record.update(record.pop("extra"))
        return record

    @classmethod
    def from_json(cls, record: dict) -> ArmRecord:
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        values = {k: v for k, v in record.items() if k in known}
        values["stages"] = tuple(StageSpan(**s) for s in record.get("stages", ()))
        values["matches"] = tuple(record.get("matches", ()))
        values.setdefault("method", None)
        values.setdefault("learners_per_seed", 1)
        values.setdefault("param_count", 0)
        return cls(**values, extra={k: v for k, v in record.items() if k not in known})
