"""``distillplan report DIR``: one self-contained HTML file for any output folder."""

from __future__ import annotations

import click

from ..report import build_report


@click.command()
@click.argument("folder", type=click.Path())
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Where to write (default DIR/report.html).")
@click.option("--title", default=None)
def report(folder, out, title):
    """Write DIR/report.html with every table and figure of DIR embedded."""
    path = build_report(folder, out, title)
    click.echo(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
