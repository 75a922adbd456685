"""The single-file HTML report of a run: plotly.js inline once, gzipped (opens offline), summary, charts, every prompt
and answer."""
from __future__ import annotations

import base64
import functools
import gzip
import html
import re
from pathlib import Path

from dashboard.charts import figures
from dashboard.filters import PROMPT_HEADERS, prompt_rows
from dashboard.summary_text import summary_markdown
from judge.echo import echoed_reasons
from runs.records import SIDES
from runs.store import Run
from runs.views import (
    ECHOED_REPLY,
    HEAD_REASONS,
    NO_REASONS,
    NO_WRITTEN_REASONS,
    cut_off_note,
    record_rubric,
    total_cell,
)


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
    """One self-contained HTML file: plotly.js inline once (gzipped), summary, charts, every prompt and answer."""
    path = Path(path)
    charts = "".join(_chart_html(f"chart-{i}", fig) for i, fig in enumerate(figures(run).values()))
    table = ["<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in PROMPT_HEADERS) + "</tr>"]
    table += ["<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in prompt_rows(run)]
    table.append("</table>")
    details = []
    for r in run.records:
        cells = "".join(
            f"<td><h4>Model {s} — {html.escape(_total_words(r, s))}"
            f"{' · ' + cut_off_note(r, s) if cut_off_note(r, s) else ''}</h4>"
            f"<pre>{html.escape(r['answers'][s]['text'] or '')}</pre>"
            f"{_reasons_html(r, s)}</td>" for s in SIDES)
        winner = "tie (too close to call)" if (r.get("margin") or {}).get("too_close") else r["winner"] or "unknown"
        details.append(f"<h3>{html.escape(str(r['id']))} · {html.escape(str(r['preset']))} · winner "
                       f"{html.escape(str(winner))}</h3>"
                       f"<p><b>Prompt:</b> {html.escape(r['prompt'])}</p><table><tr>{cells}</tr></table>"
                       f"{_no_reasons_html(r)}")
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>LLM as a Judge — {html.escape(run.name)}</title>
<style>body{{font-family:sans-serif;max-width:1200px;margin:auto;padding:1em}}
table{{border-collapse:collapse;width:100%}}td,th{{border:1px solid #ccc;padding:4px;vertical-align:top}}
pre{{white-space:pre-wrap;font-size:0.9em}}.charts{{display:grid;grid-template-columns:1fr 1fr;gap:8px}}</style>
</head><body><h1>LLM as a Judge — run {html.escape(run.name)}</h1>
<ul>{_markdown_to_html(summary_markdown(run))}</ul>
<div class="charts">{charts}</div><p id="charts-note"><i>Drawing the charts…</i></p>{_plotly_loader()}
<h2>Per prompt</h2>{''.join(table)}
<h2>Answers and reasons</h2>{''.join(details)}
</body></html>"""
    path.write_text(page, encoding="utf-8")
    return path


def _total_words(record: dict, side: str) -> str:
    """'total 9 of 12'; 'no score (...)' where the judge names the better answer and scores nothing, never 'unparsed
    of 0'."""
    rubric = record_rubric(record)
    if not rubric.scored:
        return "no score (the judge names the better answer)"
    return f"total {total_cell(record, side)} of {rubric.max_total}"


def _reasons_html(record: dict, side: str) -> str:
    reasons = record["reasons"].get(side)
    if not reasons:
        return ""
    answers = [((record.get("answers") or {}).get(s) or {}).get("text") or "" for s in SIDES]
    if echoed_reasons(str(reasons), answers, record.get("prompt", "")):  # as on the page (runs/views.py)
        return (f"<p><i>Reasons:</i> {NO_WRITTEN_REASONS}</p><details><summary>{ECHOED_REPLY}</summary>"
                f"<pre>{html.escape(str(reasons))}</pre></details>")
    return f"<p><i>Reasons:</i> {html.escape(str(reasons))}</p>"


def _no_reasons_html(record: dict) -> str:
    """Why a record has no reasons, said once under its answers (an empty 'Reasons:' said nothing)."""
    if any(record["reasons"].get(side) for side in SIDES):
        return ""
    if record.get("method") == "head":
        note = HEAD_REASONS.format(judge=record.get("judge") or "the judge")
    elif record.get("method") == "probabilities":
        note = NO_REASONS
    elif record.get("status") == "failed":
        note = "(no reasons: this prompt failed before it was judged; a resume retries it)"
    else:
        note = "(no reasons given by the judge)"
    return f"<p><i>{html.escape(note)}</i></p>"


def _chart_html(element_id: str, fig) -> str:
    """A chart's box and its figure as JSON data, drawn by _plotly_loader once plotly.js is unpacked."""
    spec = fig.to_json().replace("</", "<\\/")  # JSON text inside <script>: nothing in it may close the tag
    height = fig.layout.height or 340
    return (f'<div><div id="{element_id}" class="chart" style="height:{height}px"></div>'
            f'<script type="application/json" class="chart-spec" data-target="{element_id}">{spec}</script></div>')


@functools.lru_cache(maxsize=1)
def plotly_js_gzip_base64() -> str:
    """The plotly.js bundle gzipped and base64-encoded: 1.96 MB instead of 4.8 MB (plotly 7.1), made once."""
    from plotly.offline import get_plotlyjs

    return base64.b64encode(gzip.compress(get_plotlyjs().encode("utf-8"), compresslevel=9, mtime=0)).decode("ascii")


def _plotly_loader() -> str:
    """plotly.js, once for every chart, unpacked by the browser's own gzip (DecompressionStream: every browser
    since 2023) and run as a script, then each chart drawn; nothing is fetched, so the file opens offline."""
    return f"""<script id="plotly-js-gzip" type="application/octet-stream">{plotly_js_gzip_base64()}</script>
<script>
(async () => {{
  const note = document.getElementById("charts-note");
  try {{
    const packed = document.getElementById("plotly-js-gzip").textContent.trim();
    const bytes = Uint8Array.from(atob(packed), c => c.charCodeAt(0));
    const code = await new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"))).text();
    const script = document.createElement("script");
    script.textContent = code;
    document.head.appendChild(script);
    for (const spec of document.querySelectorAll("script.chart-spec")) {{
      const figure = JSON.parse(spec.textContent);
      Plotly.newPlot(spec.dataset.target, figure.data, figure.layout, {{responsive: true, displaylogo: false}});
    }}
    note.remove();
  }} catch (error) {{
    note.textContent = "The charts could not be drawn in this browser (it needs DecompressionStream, in every " +
      "browser since 2023): " + error;
  }}
}})();
</script>"""
