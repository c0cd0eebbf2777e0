"""``distillplan study NAME``: run a study's preset sweep into OUT/results.sqlite, then tabulate it."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ..errors import DistillPlanError
from ..io import check_output_dir
from ..studies import get_study
from ..runner import (
    ENGINES,
    ResultStore,
    SweepError,
    aggregate,
    check_seeds,
    format_table,
    infer_metrics,
    parse_overrides,
    run_sweep,
    write_csv,
)

__all__ = ["study", "parse_seeds"]


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"0,1,2"`` -> ``(0, 1, 2)``; anything but distinct non-negative integers raises naming ``--seeds``."""
    parts = [p.strip() for p in text.split(",")]
    values = []
    for part in parts:
        if not part.isdigit():
            raise DistillPlanError("--seeds", f"must be comma-separated non-negative integers like 0,1,2; got {text!r}")
        values.append(int(part))
    try:
        return check_seeds(values)
    except DistillPlanError as exc:
        raise DistillPlanError("--seeds", str(exc).removeprefix("seeds: ")) from None


@click.command("study")
@click.argument("name")
@click.option("--preset", default="quick", show_default=True, help="Named sweep of the study (quick, paper, ...).")
@click.option(
    "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
    help="Folder for results.sqlite, table.csv and figures; re-running into it resumes.",
)
@click.option("--seeds", default=None, metavar="0,1,2", help="Seeds to use instead of the preset's.")
@click.option(
    "--set", "assignments", multiple=True, metavar="KEY=VALUE",
    help="Override a config field in every run of the sweep (repeatable), e.g. --set dataset=cifar10.",
)
@click.option("--engine", type=click.Choice(ENGINES), default="local", show_default=True,
              help="local: process pool on this machine; dask: a Dask cluster (needs --scheduler).")
@click.option("--scheduler", default=None, metavar="ADDRESS", help="Dask scheduler address, e.g. tcp://host:8786.")
@click.option("--connect-timeout", type=float, default=5.0, show_default=True, metavar="SECONDS",
              help="How long to wait for the Dask scheduler.")
@click.option("--workers", type=int, default=None, help="Local worker processes (default: CPU count; 1 = in-process).")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show a progress bar on a terminal.")
def study(name, preset, out_dir, seeds, assignments, engine, scheduler, connect_timeout, workers, progress):
    """Run study NAME's preset sweep, skipping runs already stored in OUT, and write OUT/table.csv."""
    spec = get_study(name)
    sweep = spec.sweep(preset)
    if seeds is not None:
        sweep = sweep.with_seeds(parse_seeds(seeds))
    sweep = sweep.with_overrides(parse_overrides(assignments, sweep.config_type))
    check_output_dir("out", out_dir)
    keys = [task.key for task in sweep.tasks()]

    start = time.perf_counter()
    with ResultStore(out_dir / "results.sqlite") as store:
        failure = None
        try:
            report = run_sweep(
                spec, sweep, store, engine=engine, workers=workers, scheduler=scheduler,
                progress=progress, connect_timeout=connect_timeout,
            )
        except SweepError as exc:
            failure, report = exc, exc.report
        except KeyboardInterrupt:
            stored = len(store.done_keys(spec.name) & set(keys))
            click.echo(f"interrupted: {stored} of {len(keys)} runs stored in {store.path}; re-run to resume", err=True)
            raise
        rows = store.rows(spec.name, keys=keys)

    group_by = spec.group_by or spec.config_fields
    metrics = spec.metrics or infer_metrics(rows, exclude=(*spec.config_fields, *group_by))
    table = aggregate(rows, group_by, metrics)
    written = [write_csv(table, out_dir / "table.csv")]
    if spec.tables is not None:
        written += [write_csv(extra, out_dir / f"{table_name}.csv") for table_name, extra in spec.tables(rows).items()]
    if spec.figures is not None and rows:
        written += list(spec.figures(rows, out_dir))

    click.echo(format_table(table))
    click.echo(f"{spec.name} [{preset}] {report.summary()}; total {time.perf_counter() - start:.1f} s")
    for path in written:
        click.echo(f"wrote {path}")
    if failure is not None:
        raise click.ClickException(str(failure))
