"""The ``distillplan`` command: one click group, one module per subcommand in :mod:`distillplan.commands`."""

from __future__ import annotations

import importlib
import sys

import click

from .errors import DistillPlanError

# name -> "module:attribute"; modules are imported only when their command runs (fast start-up).
COMMANDS = {
    "plan": "distillplan.commands.plan:plan",
    "phase": "distillplan.commands.phase:phase",
    "grid": "distillplan.commands.grid:grid",
    "study": "distillplan.commands.study:study",
    "export": "distillplan.commands.export:export",
    "report": "distillplan.commands.report:report",
    "recommend": "distillplan.commands.recommend:recommend",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="distillplan")
def cli() -> None:
    """Plan diffusion trajectory distillation: merge plans, time grids, studies."""


def main(argv: list[str] | None = None) -> None:
    """Console entry point: bad input becomes one line on stderr and exit status 2."""
    try:
        cli.main(args=argv, prog_name="distillplan", standalone_mode=False)
    except DistillPlanError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.UsageError as exc:  # bad option values: one line, naming the option
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


if __name__ == "__main__":  # pragma: no cover
    main()
