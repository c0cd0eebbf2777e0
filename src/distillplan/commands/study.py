"""``distillplan study NAME``: run a study's preset sweep into OUT/results.sqlite, then tabulate it."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import DistillPlanError
from ..studies import describe_fields, get_study
from ..runner import ENGINES, SweepError, check_seeds, format_table, run_study

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
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
    help="Folder for results.sqlite, table.csv and figures; re-running into it resumes.",
)
@click.option("--seeds", default=None, metavar="0,1,2", help="Seeds to use instead of the preset's.")
@click.option(
    "--set", "assignments", multiple=True, metavar="KEY=VALUE",
    help="Override a config field in every run of the sweep (repeatable), e.g. --set sigma0=0.1; "
         "--fields lists the fields and their ranges.",
)
@click.option("--fields", "show_fields", is_flag=True, help="List the study's config fields, defaults and ranges.")
@click.option("--engine", type=click.Choice(ENGINES), default="local", show_default=True,
              help="local: process pool on this machine; dask: a Dask cluster (needs --scheduler).")
@click.option("--scheduler", default=None, metavar="ADDRESS", help="Dask scheduler address, e.g. tcp://host:8786.")
@click.option("--connect-timeout", type=float, default=5.0, show_default=True, metavar="SECONDS",
              help="How long to wait for the Dask scheduler.")
@click.option("--workers", type=int, default=None, help="Local worker processes (default: CPU count; 1 = in-process).")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show a progress bar on a terminal.")
def study(name, preset, out_dir, seeds, assignments, show_fields, engine, scheduler, connect_timeout, workers,
          progress):
    """Run study NAME's preset sweep, skipping runs already stored in OUT, and write OUT/table.csv."""
    spec = get_study(name)
    if show_fields:
        click.echo(describe_fields(spec))
        return
    if out_dir is None:
        raise DistillPlanError("out", "is required: the folder for results.sqlite, table.csv and figures")
    try:
        result = run_study(spec, out_dir, preset=preset, seeds=None if seeds is None else parse_seeds(seeds),
                           overrides=assignments, engine=engine, workers=workers, scheduler=scheduler,
                           connect_timeout=connect_timeout, progress=progress,
                           announce=lambda line: click.echo(line, err=True))
    except SweepError as exc:
        _print(exc.result, preset)
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        click.echo(f"interrupted: the finished runs are stored in {out_dir / 'results.sqlite'}; re-run to resume",
                   err=True)
        raise
    _print(result, preset)


def _print(result, preset: str) -> None:
    click.echo(format_table(result.table))
    click.echo(f"{result.study.name} [{preset}] {result.report.summary()}; total {result.wall_s:.1f} s")
    for path in result.written:
        click.echo(f"wrote {path}")
