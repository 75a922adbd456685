"""Charts and exports of one run: plotly figures, flat CSV, JSON, and a self-contained offline HTML report."""
from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from judge.results import PROMPT_HEADERS, SIDES, Run, prompt_rows, summary_markdown
from judge.stats import length_stats, summarize_scores
from judge.templates import DEFAULT_CRITERIA

COLORS = {"A": "#1f77b4", "B": "#ff7f0e", "tie": "#999999", "unknown": "#d62728"}
_LAYOUT = dict(template="plotly_white", height=340, margin=dict(l=50, r=20, t=50, b=40))


def _criteria(run: Run) -> list[str]:
    for r in run.records:
        for side in SIDES:
            scores = (r.get("scores") or {}).get(side)
            if scores:
                return list(scores)
    return list(DEFAULT_CRITERIA)


def criteria_figure(run: Run) -> go.Figure:
    """Mean score per criterion (and total / number of criteria) for A and B, with 95% bootstrap whiskers."""
    criteria = _criteria(run)
    summary = summarize_scores(run.records, criteria, resamples=1000)
    fig = go.Figure()
    for side in SIDES:
        intervals = [summary[side][c] for c in criteria]
        means = [i.mean for i in intervals]
        fig.add_bar(name=f"Model {side}", x=[c.capitalize() for c in criteria], y=means, marker_color=COLORS[side],
                    error_y=dict(type="data", symmetric=False,
                                 array=[(i.high - i.mean) if i.mean is not None else None for i in intervals],
                                 arrayminus=[(i.mean - i.low) if i.mean is not None else None for i in intervals]))
    fig.update_layout(title="Mean score per criterion (1-4), 95% interval", barmode="group",
                      yaxis=dict(range=[0, 4.3]), **_LAYOUT)
    return fig


def wins_figure(run: Run) -> go.Figure:
    """How many prompts A won, B won, tied, or got no verdict."""
    winners = [r.get("winner") or "unknown" for r in run.records]
    labels = {"A": "A wins", "B": "B wins", "tie": "Tie", "unknown": "No verdict"}
    counts = [winners.count(k) for k in labels]
    fig = go.Figure(go.Bar(x=list(labels.values()), y=counts, marker_color=[COLORS[k] for k in labels],
                           text=counts, textposition="auto"))
    fig.update_layout(title="Outcomes per prompt", yaxis_title="prompts", **_LAYOUT)
    return fig


def distribution_figure(run: Run) -> go.Figure:
    """Histogram of totals for each side (unparsed sides left out)."""
    fig = go.Figure()
    for side in SIDES:
        totals = [(r.get("totals") or {}).get(side) for r in run.records]
        fig.add_histogram(x=[t for t in totals if t is not None], name=f"Model {side}", marker_color=COLORS[side],
                          opacity=0.85, xbins=dict(start=0.5, size=1))  # one bar per integer total
    fig.update_layout(title="Distribution of totals", barmode="group", xaxis_title="total score",
                      yaxis_title="prompts", **_LAYOUT)
    return fig


def length_figure(run: Run) -> go.Figure:
    """Answer length (tokens) against total score, one point per answer; the title gives the length bias."""
    fig = go.Figure()
    for side in SIDES:
        points = [((r.get("answers") or {}).get(side, {}).get("n_tokens"), (r.get("totals") or {}).get(side),
                   r.get("id")) for r in run.records]
        points = [p for p in points if p[0] is not None and p[1] is not None]
        fig.add_scatter(x=[p[0] for p in points], y=[p[1] for p in points], text=[p[2] for p in points],
                        mode="markers", name=f"Model {side}", marker=dict(color=COLORS[side], size=9, opacity=0.75))
    rho = length_stats(run.records).preference.spearman
    note = "" if rho is None else f" (Spearman of length gap vs score gap: {rho:+.2f})"
    fig.update_layout(title="Answer length vs total" + note, xaxis_title="answer tokens", yaxis_title="total",
                      **_LAYOUT)
    return fig


def history_figure(points: list[tuple[str, float]], metric_label: str) -> go.Figure:
    fig = go.Figure(go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], mode="lines+markers"))
    fig.update_layout(title=f"{metric_label} across runs", xaxis_title="run created", **_LAYOUT)
    return fig


def figures(run: Run) -> dict[str, go.Figure]:
    return {"criteria": criteria_figure(run), "wins": wins_figure(run), "distribution": distribution_figure(run),
            "length": length_figure(run)}


# ---- exports --------------------------------------------------------------------------------------------------
def flat_record(record: dict) -> dict:
    """One record as flat columns: identifiers, answers, per-criterion scores, totals, verdict, checks, timings."""
    row = {k: record.get(k) for k in ("id", "preset", "category", "prompt", "reference", "model_a", "model_b",
                                      "judge", "mode", "status", "winner", "consistent")}
    for side in SIDES:
        answer = (record.get("answers") or {}).get(side) or {}
        row[f"answer_{side}"] = answer.get("text")
        row[f"tokens_{side}"] = answer.get("n_tokens")
        row[f"seconds_{side}"] = answer.get("seconds")
        for criterion, value in ((record.get("scores") or {}).get(side) or {}).items():
            row[f"{criterion}_{side}"] = value
        row[f"total_{side}"] = (record.get("totals") or {}).get(side)
        reasons = (record.get("reasons") or {}).get(side)
        row[f"reasons_{side}"] = reasons if isinstance(reasons, str) or reasons is None else json.dumps(reasons)
        checks = (record.get("checks_summary") or {}).get(side)
        row[f"checks_passed_{side}"] = checks.get("passed") if checks else None
        row[f"checks_total_{side}"] = checks.get("total") if checks else None
    for key, value in (record.get("timings") or {}).items():
        row[f"time_{key}"] = value
    return row


def export_csv(run: Run, path) -> Path:
    path = Path(path)
    pd.DataFrame([flat_record(r) for r in run.records]).to_csv(path, index=False)
    return path


def export_json(run: Run, path) -> Path:
    """The whole run as one JSON document: manifest, summary and every record unchanged."""
    path = Path(path)
    data = {"run": run.name, "finished": run.finished, "manifest": run.manifest, "summary": run.summary,
            "records": run.records}
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def _markdown_to_html(text: str) -> str:
    """Enough of the summary markdown (bold, code, bullets) for the report, without a markdown dependency."""
    import re

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
    for r in run.records:
        answers = r.get("answers") or {}
        reasons = r.get("reasons") or {}
        cells = "".join(
            f"<td><h4>Model {s} — total {html.escape(str((r.get('totals') or {}).get(s)))}</h4>"
            f"<pre>{html.escape((answers.get(s) or {}).get('text') or '')}</pre>"
            f"<p><i>Reasons:</i> {html.escape(str(reasons.get(s) or ''))}</p></td>" for s in SIDES)
        details.append(f"<h3>{html.escape(str(r.get('id')))} · {html.escape(str(r.get('preset')))} · winner "
                       f"{html.escape(str(r.get('winner') or 'unknown'))}</h3>"
                       f"<p><b>Prompt:</b> {html.escape(r.get('prompt') or '')}</p><table><tr>{cells}</tr></table>")
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
