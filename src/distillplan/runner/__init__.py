"""Run studies: sweeps of configs × seeds, on a local process pool or a Dask cluster, into SQLite.

A study is a :class:`Study` (typed config + ``run(config, seed) -> rows`` + named presets); a
:class:`Sweep` expands into content-addressed :class:`Task` s; :func:`run_sweep` runs the ones not
yet in the :class:`ResultStore` and stores each as it finishes, so interrupted sweeps resume. Each
run is claimed in the store before it starts, so processes sharing a store compute it once
(:mod:`.claims`); local pool workers die with the sweep's process (:mod:`.workers`).
:func:`aggregate` turns stored rows into mean ± std tables; :func:`run_study` does all of it for one study into
one folder and writes its tables and figures.
"""

from .aggregate import aggregate, format_table, infer_metrics, write_csv
from .engines import ENGINES, Failure, RunResult, SweepError, SweepReport, execute_task, run_sweep
from .overrides import parse_overrides
from .run import StudyRun, run_study, write_outputs
from .seeding import seed_everything
from .store import ResultStore
from .study import Row, Study
from .sweep import Sweep, Task, canonical_json, check_seeds, grid, task_key

__all__ = [
    "ENGINES",
    "Failure",
    "ResultStore",
    "Row",
    "RunResult",
    "Study",
    "StudyRun",
    "Sweep",
    "SweepError",
    "SweepReport",
    "Task",
    "aggregate",
    "canonical_json",
    "check_seeds",
    "execute_task",
    "format_table",
    "grid",
    "infer_metrics",
    "parse_overrides",
    "run_study",
    "run_sweep",
    "seed_everything",
    "task_key",
    "write_csv",
    "write_outputs",
]
