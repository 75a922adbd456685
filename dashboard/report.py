"""The single-file HTML report of a run: plotly.js inline (opens offline), summary, charts, every prompt and answer."""
from __future__ import annotations

import html
import re
from pathlib import Path

from dashboard.charts import figures
from dashboard.filters import PROMPT_HEADERS, prompt_rows
from dashboard.summary_text import summary_markdown
from runs.records import SIDES
from runs.store import Run


def _markdown_to_html(text: str) -> str:
    """Enough of the summary markdown (bold, code, bullets) for the report, without a markdown dependency."""
    out = []
    for line in text.splitlines():
        line = html.escape(line)
        line = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", line)
        line = re.sub(r"`(.+?)`", r"<code>\1</code>", line)
        out.append(f"<li>{line[2:]}</li>" if line.startswith("- ") else f"<p>{line}</p>")
    return "\n".join(out)


def html_report(run: Run, path) -> Path:
    """One self-contained HTML file: plotly.js inline (opens offline), summary, charts, every prompt and answer."""
    path = Path(path)
    charts = []
    for i, fig in enumerate(figures(run).values()):
        # Only the first chart carries plotly.js (inline, ~4 MB); nothing is fetched when the file opens.
        charts.append(fig.to_html(full_html=False, include_plotlyjs=True if i == 0 else False))
    table = ["<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in PROMPT_HEADERS) + "</tr>"]
    table += ["<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in prompt_rows(run)]
    table.append("</table>")
    details = []
    top = run.rubric.max_total
    for r in run.records:
        cells = "".join(
            f"<td><h4>Model {s} — total {html.escape(str(r['totals'][s]))} of {top}</h4>"
            f"<pre>{html.escape(r['answers'][s]['text'] or '')}</pre>"
            f"<p><i>Reasons:</i> {html.escape(str(r['reasons'].get(s) or ''))}</p></td>" for s in SIDES)
        details.append(f"<h3>{html.escape(str(r['id']))} · {html.escape(str(r['preset']))} · winner "
                       f"{html.escape(str(r['winner'] or 'unknown'))}</h3>"
                       f"<p><b>Prompt:</b> {html.escape(r['prompt'])}</p><table><tr>{cells}</tr></table>")
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>LLM as a Judge — {html.escape(run.name)}</title>
<style>body{{font-family:sans-serif;max-width:1200px;margin:auto;padding:1em}}
table{{border-collapse:collapse;width:100%}}td,th{{border:1px solid #ccc;padding:4px;vertical-align:top}}
pre{{white-space:pre-wrap;font-size:0.9em}}.charts{{display:grid;grid-template-columns:1fr 1fr;gap:8px}}</style>
</head><body><h1>LLM as a Judge — run {html.escape(run.name)}</h1>
<ul>{_markdown_to_html(summary_markdown(run))}</ul>
<div class="charts">{''.join(f'<div>{c}</div>' for c in charts)}</div>
<h2>Per prompt</h2>{''.join(table)}
<h2>Answers and reasons</h2>{''.join(details)}
</body></html>"""
    path.write_text(page, encoding="utf-8")
    return path
