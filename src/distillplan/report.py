"""One self-contained HTML report (tables and figures embedded) for any output folder.

Works on what studies, sweeps, ``phase`` and ``recommend`` write: CSV tables become HTML tables,
PNG/SVG figures are embedded as data URIs, small JSON files are shown pretty-printed, and a
``results.sqlite`` store is summarised (runs per study). No network, no external assets.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import sqlite3
import time
from pathlib import Path

from .errors import DistillPlanError
from .io import check_output_file

__all__ = ["build_report", "REPORT_SUFFIXES"]

REPORT_SUFFIXES = (".html", ".htm")

_MAX_ROWS = 300
_MAX_JSON = 20_000
_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
.meta{color:#666;font-size:.9em}table{border-collapse:collapse;font-size:.85em;margin:.5em 0;display:block;overflow-x:auto}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:right;white-space:nowrap}th{background:#f3f3f3}
td.t{text-align:left}figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{color:#555;font-size:.85em}pre{background:#f7f7f7;padding:.7em;overflow-x:auto;font-size:.8em}
nav a{margin-right:1em}
"""


def build_report(folder, out: str | Path | None = None, title: str | None = None) -> Path:
    """Write ``folder/report.html`` (or ``out``, an .html file in an existing folder) and return its path."""
    root = Path(folder)
    if root.exists() and not root.is_dir():
        raise DistillPlanError("dir", f"{root} is a file, not a folder")
    if not root.is_dir():
        raise DistillPlanError("dir", f"no such folder: {root}")
    target = check_output_file("out", out, REPORT_SUFFIXES) if out else check_output_file("dir", root / "report.html",
                                                                                           REPORT_SUFFIXES)
    try:
        files = sorted(p for p in root.rglob("*") if p.is_file() and p.name != "report.html")
    except OSError as exc:
        raise DistillPlanError("dir", f"cannot list {root}: {exc.strerror or exc}") from None
    tables = [p for p in files if p.suffix.lower() == ".csv"]
    figures = [p for p in files if p.suffix.lower() in (".png", ".svg", ".jpg", ".jpeg")]
    docs = [p for p in files if p.suffix.lower() == ".json" and p.stat().st_size <= _MAX_JSON]
    stores = [p for p in files if p.suffix.lower() in (".sqlite", ".db")]
    if not (tables or figures or docs or stores):
        raise DistillPlanError("dir", f"{root} holds no tables, figures or results to report")
    title = title or f"distillplan report: {root.resolve().name}"
    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p class='meta'>{html.escape(str(root.resolve()))} · generated {time.strftime('%Y-%m-%d %H:%M:%S')}"
             f" · {len(tables)} tables, {len(figures)} figures</p>"]
    sections = [("Figures", figures, _figure), ("Tables", tables, _table), ("Settings and exports", docs, _json),
                ("Result stores", stores, _store)]
    parts.append("<nav>" + "".join(f"<a href='#{n.split()[0].lower()}'>{n}</a>" for n, items, _ in sections if items)
                 + "</nav>")
    for name, items, render in sections:
        if items:
            parts.append(f"<h2 id='{name.split()[0].lower()}'>{name}</h2>")
            parts.extend(render(p, root) for p in items)
    page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body>{''.join(parts)}</body></html>")
    target.write_text(page, encoding="utf-8")
    return target


def _rel(p: Path, root: Path) -> str:
    return html.escape(str(p.relative_to(root)))


def _figure(p: Path, root: Path) -> str:
    mime = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}[p.suffix.lower()]
    try:
        data = base64.b64encode(p.read_bytes()).decode("ascii")
    except OSError as exc:
        return f"<p>{_rel(p, root)}: unreadable ({html.escape(str(exc))})</p>"
    return f"<figure><img alt='{_rel(p, root)}' src='data:{mime};base64,{data}'><figcaption>{_rel(p, root)}</figcaption></figure>"


def _table(p: Path, root: Path) -> str:
    try:
        with p.open(newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        return f"<p>{_rel(p, root)}: unreadable ({html.escape(str(exc))})</p>"
    if not rows:
        return f"<p>{_rel(p, root)}: empty</p>"
    head, body = rows[0], rows[1:]
    more = len(body) - _MAX_ROWS
    cells = "".join("<tr>" + "".join(_cell(c) for c in r) + "</tr>" for r in body[:_MAX_ROWS])
    note = f"<p class='meta'>… {more} more rows in the CSV</p>" if more > 0 else ""
    return (f"<h3>{_rel(p, root)}</h3><table><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head)
            + f"</tr></thead><tbody>{cells}</tbody></table>{note}")


def _cell(value: str) -> str:
    try:
        x = float(value)
    except ValueError:
        return f"<td class='t'>{html.escape(value if len(value) <= 80 else value[:77] + '...')}</td>"
    if x != x or x in (float("inf"), float("-inf")):
        return f"<td>{html.escape(value)}</td>"
    text = value if (x == int(x) and abs(x) < 1e9 and "." not in value and "e" not in value.lower()) else f"{x:.4g}"
    return f"<td>{text}</td>"


def _json(p: Path, root: Path) -> str:
    try:
        text = json.dumps(json.loads(p.read_text()), indent=2)
    except (OSError, ValueError) as exc:
        text = f"unreadable: {exc}"
    return f"<h3>{_rel(p, root)}</h3><pre>{html.escape(text)}</pre>"


def _store(p: Path, root: Path) -> str:
    try:
        with sqlite3.connect(f"file:{p}?mode=ro", uri=True) as con:
            rows = con.execute("SELECT study, COUNT(*), ROUND(SUM(wall_s), 1) FROM runs GROUP BY study").fetchall()
    except sqlite3.Error as exc:
        return f"<p>{_rel(p, root)}: not a distillplan result store ({html.escape(str(exc))})</p>"
    body = "".join(f"<tr><td class='t'>{html.escape(str(s))}</td><td>{n}</td><td>{w}</td></tr>" for s, n, w in rows)
    return (f"<h3>{_rel(p, root)}</h3><table><thead><tr><th>study</th><th>finished runs</th><th>run time (s)</th>"
            f"</tr></thead><tbody>{body}</tbody></table>")
