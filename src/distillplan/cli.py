"""The ``distillplan`` command: one click group, one module per subcommand in :mod:`distillplan.commands`.

Bad input ends in exactly one stderr line ``error: <argument>: <what is wrong>`` and exit status 2,
where ``<argument>`` is the option as typed, without dashes (commands map API argument names to their
options). Commands validate everything before they start working; warnings raised while a command
runs are held back and shown only if it succeeds.
"""

from __future__ import annotations

import importlib
import sys
import warnings

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
    "calibrate": "distillplan.commands.calibrate:calibrate",
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


def usage_error_line(exc: click.UsageError) -> str:
    """``<argument>: <message>`` for a click usage error (bad or missing value, unknown option or command)."""
    if isinstance(exc, click.exceptions.NoArgsIsHelpError):  # message is the whole help page
        return "command: missing; choose from " + ", ".join(sorted(COMMANDS)) + " (see distillplan --help)"
    message = exc.format_message().strip()
    message = message[:1].lower() + message[1:]
    if isinstance(exc, click.BadParameter) and exc.param is not None:
        param = exc.param
        if isinstance(param, click.Option):
            longest = max(param.opts, key=len)
            name = longest.lstrip("-")
        else:
            name = param.human_readable_name.lower()
    elif isinstance(exc, (click.NoSuchOption, click.BadOptionUsage)):
        name = exc.option_name.lstrip("-")
    elif message.startswith("no such command"):
        name = "command"
    else:
        name = "arguments"
    return f"{name}: {message}"


def main(argv: list[str] | None = None) -> None:
    """Console entry point: bad input becomes one line on stderr and exit status 2."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        # torch warns about its own internals on first use of forward-mode autodiff: not the user's business
        warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated", category=DeprecationWarning)
        try:
            cli.main(args=argv, prog_name="distillplan", standalone_mode=False)
        except DistillPlanError as exc:
            _fail(f"{exc.argument}: {exc.message}", 2)
        except click.exceptions.Abort:
            _fail("aborted", 130, prefix="")
        except click.UsageError as exc:  # bad option values: one line, naming the option
            _fail(usage_error_line(exc), 2)
        except click.ClickException as exc:
            _fail(exc.format_message(), exc.exit_code)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
    for w in caught:  # the command succeeded: show what it warned about, after its output
        click.echo(warnings.formatwarning(w.message, w.category, w.filename, w.lineno, w.line), err=True, nl=False)


def _fail(line: str, code: int, prefix: str = "error: ") -> None:
    click.echo(prefix + " ".join(line.split()), err=True)  # one line, whatever the message holds
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
