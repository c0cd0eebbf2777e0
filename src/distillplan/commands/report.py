"""``distillplan report DIR``: one self-contained HTML file for any output folder."""

from __future__ import annotations

import click

from ..report import REPORT_SUFFIXES, build_report


@click.command()
@click.argument("folder", metavar="DIR")
@click.option("--out", default=None,
              help=f"Where to write ({', '.join(REPORT_SUFFIXES)}, in an existing folder; default DIR/report.html).")
@click.option("--title", default=None)
def report(folder, out, title):
    """Write DIR/report.html with every table and figure of DIR embedded."""
    path = build_report(folder, out, title)
    click.echo(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
