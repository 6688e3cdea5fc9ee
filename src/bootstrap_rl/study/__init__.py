"""Studies: every arm of a curriculum on one budget of env steps, evaluated as it trains.

``run_study(curriculum, out_dir)`` expands the curriculum into arms (see :func:`expand_runs`),
trains each with its seeds vmapped inside one compiled function per (arm, stage shape) —
stages only swap data (their task sampler) — and writes one results directory:

``study.json``            the resolved configuration and the arms (stages, budgets, parameter counts)
``results.csv``           the tidy table: arm, seed, stage, env_steps, split, metric, value
``parts/<run>/*.csv``     the same rows, one atomically written file per evaluation point
``checkpoints/<run>/``    orbax checkpoints of every seed's parameters at each stage boundary
``resume/<run>.npz``      the latest full learner state (for ``resume=True``)
``timing/<run>.json``     wall time split into compilation, training and evaluation; compile
                          seconds, persistent-cache hits, peak device memory where reported,
                          the seed chunk if the run was trained in chunks

Evaluation happens at env step 0 and every ``curriculum.evaluation.every_env_steps``: each
seed's policy plays episodes of the adult task and of every childhood stage's tasks (the
``split`` column), and, once a stage has ended, the drift from the policy of that stage's end
is measured on a fixed probe set of that stage's observations (metric ``policy_kl``).
Training metrics are averaged over the interval (split ``train``).

Everything derives from one root seed. Seed ``s`` of every arm starts from the same network
and every arm is evaluated on the same episodes (common random numbers), so arms differ only
by how they spend the budget. Resuming restarts from the last saved state on the same
chunking, so an interrupted and resumed study ends with the same table as an uninterrupted one
on the same device.

Seeds and the arms of a D:prodigy grid (the vmapped batch rows; a PBT method's
learners per seed live inside a row) are sharded over every device of every
process (:mod:`bootstrap_rl.sharding`): the batch is padded to a multiple of the device count,
each process writes the rows of its own devices (``parts/<run>/NNNNN.p<process>.csv`` when
there is more than one process) and process 0 writes everything written once (``study.json``,
checkpoints, resume state, timing, ``results.csv``).

A run whose batch does not fit in device memory trains its seeds in sequential chunks
(``seed_chunk``, or by itself after an out-of-memory error): each chunk writes
``parts/<run>/NNNNN.seeds<a>-<b>.csv``, ``resume/<run>.seeds<a>-<b>.npz`` and
``parts/<run>/DONE.seeds<a>-<b>`` once finished, and the run's checkpoints are merged into
the unchunked layout at its end. Keys are per seed, so a chunk trains its seeds as the whole
batch would, up to float rounding.

The modules, in the order a study uses them:

``plan``        arms grouped into runs, and which runs share compiled programs
``inputs``      per-seed keys, hyperparameters and samplers, from the root seed
``programs``    the compiled programs of a program key, and bound to one run
``preflight``   every program traced before any arm trains
``study_file``  ``study.json``, and the check of the results directory
``chunks``      a run's seeds, whole or in chunks; out-of-memory; checkpoint merge
``loop``        one chunk of seeds trained: evaluate, train, end a stage, save
``rows``        the tidy table's rows of an evaluation point
``storage``     parts, chunk tags and markers on disk; ``results.csv``
``resume``      the resume state's ``.npz`` format
``timing``      compile clock and ``timing/<run>.json``
``driver``      ``run_study``

The public names below are loaded on first use, as in :mod:`bootstrap_rl`: the submodules
import one another, and a package that imported them all at import time would form an
import cycle with each of them.
"""

from bootstrap_rl._lazy import lazy_exports

lazy_exports(globals(), {
    "plan": ("Run", "expand_runs", "resolved_config"),
    "errors": ("StudyError",),
    "bootstrap_rl.schema": ("TABLE_COLUMNS",),
    "storage": ("consolidate", "read_results"),
    "programs": ("enable_compilation_cache",),
    "driver": ("run_study",),
    "chunks": (), "inputs": (), "loop": (), "preflight": (), "resume": (), "rows": (), "study_file": (),
    "timing": (),
})
