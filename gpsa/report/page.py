"""The report's HTML page: one self-contained file (every plot embedded as a base64 PNG data
URI, so it opens from disk without a server) with the summary table, the figures with their
captions, the throughput table and the alarms. A small inline script marks
``document.body.dataset.imagesLoaded`` (``"yes"`` when every image decoded, else the count that
did not) so a headless browser can check the page rendered."""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import Any

from gpsa import __version__
from gpsa.report.figures import Figure

STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; background: #fff; max-width: 1400px; }
table { border-collapse: collapse; margin: 1em 0; }
td, th { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: left; }
th { background: #eee; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.95em; color: #444; }
"""

SCRIPT = """
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var bad = images.filter(function (im) { return !(im.complete && im.naturalWidth > 0); });
  document.body.dataset.imagesLoaded = bad.length === 0 ? "yes" : String(bad.length);
  document.body.dataset.images = String(images.length);
});
"""


def cell(value: Any) -> str:
    """A summary value as the page shows it (integers as is, floats with 4 significant digits,
    NaN as "n/a")."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return html.escape(str(value))
    if isinstance(value, int):
        return str(value)
    return "n/a" if math.isnan(value) else f"{value:.4g}"


def _table(header: list[str], rows: list[list[str]], table_id: str) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _figure(fig: Figure) -> str:
    data = base64.b64encode(fig.path.read_bytes()).decode("ascii")
    return (f'<figure id="fig-{html.escape(fig.path.stem)}"><h3>{html.escape(fig.title)}</h3>'
            f'<img src="data:image/png;base64,{data}" alt="{html.escape(fig.title)}">'
            f"<figcaption>{html.escape(fig.caption)}</figcaption></figure>")


def render(*, run_folder: Path, summary: dict[str, Any], figures: list[Figure],
           stages: tuple[list[str], list[list[str]]], alarms: tuple[list[str], list[list[str]]],
           notes: list[str]) -> str:
    """The page as a string. ``stages`` and ``alarms``: (header, rows) of their tables;
    ``notes``: what the report left out and why."""
    rows = [[html.escape(k), cell(v)] for k, v in summary.items()]
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>gpsa report: {html.escape(run_folder.name)}</title>",
        f"<style>{STYLE}</style><script>{SCRIPT}</script></head><body>",
        f"<h1>gpsa report: {html.escape(str(run_folder))}</h1>",
        f"<p>gpsa {html.escape(__version__)}</p>",
        "<h2>Summary</h2>", _table(["quantity", "value"], rows, "summary"),
        "<h2>Plots</h2>", *(_figure(f) for f in figures),
        "<h2>Stages</h2>", _table(stages[0], stages[1], "stages"),
        "<h2>Alarms</h2>",
        _table(alarms[0], alarms[1], "alarms") if alarms[1] else
        '<p id="alarms">No alarm in the run summary.</p>',
    ]
    if notes:
        parts += ["<h2>Not in this report</h2><ul>",
                  *(f"<li>{html.escape(n)}</li>" for n in notes), "</ul>"]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_page(path: Path, text: str) -> Path:
    """Write the page atomically (a reader never sees half a page)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
