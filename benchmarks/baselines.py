"""Direct PPO's learning curve on every task kind of a family: what a curriculum designer needs first.

For each task kind of Playroom (turn, step, goto, pickup, unlock, treasure) and Limbs (babble,
reach, track, sequence, draw), a study with no childhood — the ``direct`` arm only, with the
learner of the family's ladder (``curricula/playroom_ladder.py``, ``curricula/limbs_ladder.py``)
— trains ``--seeds`` seeds for ``--budget`` env steps and evaluates them every ``--every`` env
steps. The learning rate is constant (as in the ladders), so the curve's value at env step *t*
is also what a run with budget *t* ends with: one run gives every smaller budget.

For each kind the table gives the IQM over seeds of the score at each budget and the env steps
at which the IQM first reaches 25 / 50 / 75 % success (Playroom: episodes with a positive
return) — ``> budget`` where it never does. Limbs' kinds have dense rewards and no success
threshold: the table gives the return and the env steps at which the IQM return first closes
25 / 50 / 75 % of the gap between its first and its best evaluation.

    python benchmarks/baselines.py                            # both families, 5 seeds
    python benchmarks/baselines.py --family playroom --kinds goto pickup --budget 1e6 --seeds 5

Writes ``benchmarks/results/baselines_<backend>.json``, ``docs/baselines.md`` (the table) and
``docs/baselines.png`` (the curves). A run replaces the rows of the kinds it measured and keeps
the others', each row with its own budget, seeds, device and date, so the families can be
measured in separate runs. Each kind's study directory is kept under ``--work``.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import _common  # noqa: E402

FAMILIES = {
    "playroom": ("playroom_ladder", ("turn", "step", "goto", "pickup", "unlock", "treasure")),
    "limbs": ("limbs_ladder", ("babble", "reach", "track", "sequence", "draw")),
}
LEVELS = (0.25, 0.5, 0.75)


def kind_curriculum(family: str, kind: str, budget: int, every: int, seeds: int, episodes: int):
    """A direct-only curriculum on ``kind`` with the family ladder's learner."""
    from bootstrap_rl.curriculum import Evaluation, Stage, load

    ladder = load(FAMILIES[family][0])
    env = f"{'Playroom' if family == 'playroom' else 'Limbs'}-{kind.title()}-v0"
    return ladder.replace(
        name=f"baseline_{family}_{kind}", env=env, stages=(), adult=Stage(kind, tasks=kind, env_steps=budget),
        total_env_steps=budget, methods={}, library=None, seeds=seeds,
        evaluation=Evaluation(every_env_steps=every, episodes=episodes,
                              success_threshold=ladder.evaluation.success_threshold),
        description=f"direct PPO on {kind}: a baseline",
    )


def steps_to_levels(steps: np.ndarray, curve: np.ndarray, success: bool) -> dict[str, int | None]:
    """The first env step at which ``curve`` reaches each level (None: never). Success curves
    are compared with the level itself; return curves with that fraction of the way from their
    first value to their best."""
    start, best = curve[0], curve.max()
    out = {}
    for level in LEVELS:
        target = level if success else start + level * (best - start)
        reached = np.flatnonzero(curve >= target) if (success or best > start) else np.array([], int)
        out[f"{int(level * 100)}%"] = int(steps[reached[0]]) if reached.size else None
    return out


def kind_result(out: Path, kind: str) -> dict:
    """The IQM-over-seeds curve of ``kind``'s study in ``out`` and its steps to each level."""
    from scipy.stats import trim_mean

    import bootstrap_rl

    results = bootstrap_rl.load_study(out)
    table, meta = results.table, results.meta
    metric = meta["score_metric"]
    rows = table[(table.split == kind) & (table.metric == metric)]
    curve = rows.groupby("env_steps").value.apply(lambda v: trim_mean(np.asarray(v), 0.25))
    steps, values = curve.index.to_numpy(), curve.to_numpy()
    return {"kind": kind, "metric": metric, "seeds": int(meta["seeds"]), "env_steps": steps.tolist(),
            "iqm": values.tolist(), "final_iqm": float(values[-1]),
            "steps_to": steps_to_levels(steps, values, metric == "success")}


def merge_rows(path: Path, rows: list[dict]) -> list[dict]:
    """The rows already in ``path`` (a results JSON) that ``rows`` does not measure again, then
    ``rows``, in FAMILIES' order. Rows of an older file without their own budget get the file's."""
    import json

    old = json.loads(path.read_text()) if path.exists() else {}
    shared = {k: old[k] for k in ("budget", "every", "episodes", "device", "jax", "date") if k in old}
    fresh = {(r["family"], r["kind"]) for r in rows}
    kept = [{**shared, **r} for r in old.get("results", []) if (r["family"], r["kind"]) not in fresh]
    order = [(family, kind) for family, (_, kinds) in FAMILIES.items() for kind in kinds]
    return sorted(kept + rows, key=lambda r: order.index((r["family"], r["kind"])))


def table_lines(results: list[dict]) -> list[str]:
    lines = ["| family | kind | score | seeds | budget | IQM at 1/4 budget | at 1/2 | at full budget "
             "| env steps to 25% | to 50% | to 75% |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        steps, budget = np.asarray(r["env_steps"]), r["budget"]
        at = [r["iqm"][int(np.searchsorted(steps, budget * f))] for f in (0.25, 0.5)]
        reach = [f"{v:,}" if v is not None else f"> {budget:,}" for v in r["steps_to"].values()]
        lines.append(f"| {r['family']} | {r['kind']} | {r['metric']} | {r['seeds']} | {budget:,} | {at[0]:.3g} | "
                     f"{at[1]:.3g} | {r['final_iqm']:.3g} | " + " | ".join(reach) + " |")
    return lines


def runs_line(results: list[dict]) -> str:
    """Where and how each family was measured, one clause per distinct setting."""
    clauses = {}
    for r in results:
        setting = (f"{r['device']}, jax {r['jax']}, {r['date']}; {r['seeds']} seeds, {r['budget']:,} env steps "
                   f"each, evaluated every {r['every']:,} env steps on {r['episodes']} episodes per seed")
        clauses.setdefault(setting, []).append(r["family"])
    return " ".join(f"{', '.join(f.title() for f in dict.fromkeys(fams))}: {setting}." for setting, fams in clauses.items())


# How to read the table: what the numbers cannot say on their own.
NOTES = """Read with care. Playroom's `turn` succeeds at step 0 (a random policy faces the asked
direction within the step limit) and `step` within the first evaluation. `treasure` is at the
floor for direct PPO through 1M env steps — as for every arm at 8.4M in `../shared/pilots.md` —
so it cannot be the adult task of a CPU-sized study. `unlock` levels off near 0.86: its
learning curve rises steeply (from 25 % to 50 % within 65,536 env steps), so an adult task on
it is calibrated by the budget, not by a step limit (halving the limit to 64 moved nothing in a
pilot; `curricula/playroom_ladder.py`, the `cpu` preset). Limbs' returns are dense negative distances
summed over an episode (`draw` adds +1 per waypoint), except `sequence`'s, sparse (+1 per
target reached in order, +1 at the end); their levels are
fractions of the way from the first evaluation to the best, so a kind still rising at the end
(`sequence`) has its levels set by an unfinished best."""


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=(*FAMILIES, "all"), default="all")
    parser.add_argument("--kinds", nargs="*", default=None, help="task kinds (default: every kind of the family)")
    parser.add_argument("--budget", type=float, default=4_194_304, help="env steps per seed")
    parser.add_argument("--every", type=float, default=131_072, help="evaluate every this many env steps")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--episodes", type=int, default=32, help="evaluation episodes per seed and point")
    parser.add_argument("--work", type=Path, default=Path("runs/baselines"), help="where the studies are written")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/baselines.md")
    args = parser.parse_args(argv)
    import jax

    from bootstrap_rl import api
    from bootstrap_rl.results import write_json

    budget, every = int(args.budget), int(args.every)
    families = FAMILIES if args.family == "all" else {args.family: FAMILIES[args.family]}
    results = []
    for family, (_, kinds) in families.items():
        for kind in args.kinds or kinds:
            if kind not in kinds:
                continue
            curriculum = kind_curriculum(family, kind, budget, every, args.seeds, args.episodes)
            out = args.work / family / kind
            resume = (out / "study.json").exists()
            api.run_study(curriculum, out, report=False, resume=resume)
            results.append({"family": family, **kind_result(out, kind), "budget": budget, "every": every,
                            "episodes": args.episodes, "device": _common.device_name(), "jax": jax.__version__,
                            "date": datetime.date.today().isoformat()})
            print(f"{family}/{kind}: final IQM {results[-1]['final_iqm']:.3f}; steps to {results[-1]['steps_to']}",
                  flush=True)
    path = HERE / "results" / f"baselines_{jax.default_backend()}.json"
    result = {"benchmark": "baselines", "results": merge_rows(path, results)}
    write_json(path, result)
    if not args.no_docs:
        write_docs(result)
    return result


def write_docs(result: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, family in zip(axes, FAMILIES):
        for r in (r for r in result["results"] if r["family"] == family):
            ax.plot(r["env_steps"], r["iqm"], label=r["kind"])
        ax.set(title=f"{family}: direct PPO", xlabel="env steps", ylabel="IQM over seeds")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(ROOT / "docs" / "baselines.png", dpi=100)
    lines = ["# Baselines: direct PPO on every task kind", "",
             "What a curriculum designer needs before choosing an adult task and a budget: how fast direct PPO "
             "(each family ladder's learner, constant learning rate) learns each task kind alone. Written by "
             "`python benchmarks/baselines.py`; the table's numbers are IQMs over seeds of the evaluation score "
             "(Playroom: success rate; Limbs: return, whose levels are fractions of the way from the first "
             "evaluation to the best).", "",
             runs_line(result["results"]), "",
             *table_lines(result["results"]), "", NOTES, "", "![learning curves](baselines.png)", ""]
    (ROOT / "docs" / "baselines.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
