"""The Judge Lab's views of a validation: judges side by side (metrics with intervals), a confusion matrix, agreement
by answer-length gap, a calibration plot, the rows where judges disagree with the gold label, and exports."""
from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path

import plotly.graph_objects as go

from analysis.judge_metrics import class_metrics
from judge.judging import HEAD, PROBABILITIES
from lab.validation import ValidationRun

_LAYOUT = dict(template="plotly_white", height=400, margin=dict(l=50, r=20, t=50, b=40))
# Each plot is a third of the row wide: a legend beside it would take half of that.
_LEGEND_BELOW = dict(legend=dict(orientation="h", yanchor="top", y=-0.3, x=0), margin=dict(l=50, r=20, t=50, b=110))
METRIC_COLUMNS = [  # (metrics.json key, table header)
    ("n", "n"), ("agreement", "agreement (ties ½) [95% CI]"), ("agreement_without_ties", "agreement w/o ties"),
    ("length_balanced_agreement", "length-balanced"), ("longest_baseline", "longer-wins baseline"),
    ("kappa", "kappa"), ("position_consistency", "position consistency"), ("first_slot_share", "first-slot share"),
    ("accuracy", "accuracy"), ("f1_macro", "F1 macro"), ("pearson", "Pearson"), ("spearman", "Spearman"),
    ("kendall", "Kendall"), ("unparsed_share", "unparsed"), ("panel_alpha", "panel α (Krippendorff)"),
    ("mean_panel_used", "judges counted"), ("seconds_per_item", "s / item"),
]
DISAGREEMENT_HEADERS = ["judge", "id", "gold", "predicted", "confidence", "prompt / text"]


def _cell(metrics: dict, key: str) -> str:
    value = metrics.get(key)
    if value is None:
        return "–"
    if key == "agreement" and metrics.get("agreement_ci"):
        low, high = metrics["agreement_ci"]
        return f"{value:.3f} [{low:.2f}-{high:.2f}]"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def metric_columns(run: ValidationRun) -> list[tuple[str, str]]:
    """The columns that some judge of this run has a value for."""
    return [(key, header) for key, header in METRIC_COLUMNS
            if any(m.get(key) is not None for m in run.metrics.values())]


def metrics_table(run: ValidationRun) -> tuple[list[str], list[list]]:
    """(headers, one row per judge and method); the method is the one that ran, with the one ticked beside it
    where they differ (method_notes says why)."""
    columns = metric_columns(run)
    rows = [[m["judge"], method_cell(run, m), *(_cell(m, key) for key, _ in columns)] for m in run.metrics.values()]
    return ["judge", "method", *(header for _, header in columns)], rows


def column_widths(headers: list[str]) -> list[str]:
    """Widths for the metrics table: the judge, its method and the agreement with its interval get room, the rest
    share what is left, so every column stays inside the page (a header then wraps between words, not inside one)."""
    wide = {"judge": 13, "method": 13, "agreement (ties ½) [95% CI]": 12, "n": 4}
    rest = [h for h in headers if h not in wide]
    share = (100 - sum(wide[h] for h in headers if h in wide)) / max(len(rest), 1)
    return [f"{wide.get(h, share):.1f}%" for h in headers]


def methods_ticked(run: ValidationRun, metrics: dict) -> list[str]:
    """The methods ticked that this judge's row stands for (older folders recorded none: a scoring judge stood for
    every method ticked, any other judge for its own)."""
    if metrics.get("methods_ticked"):
        return list(metrics["methods_ticked"])
    if metrics.get("method") == HEAD:
        return list((run.manifest.get("config") or {}).get("methods") or [])
    return [metrics.get("method")]


def method_cell(run: ValidationRun, metrics: dict) -> str:
    ran, ticked = metrics.get("method"), methods_ticked(run, metrics)
    return ran if ticked in ([], [ran]) else f"{ran} (ticked: {', '.join(ticked)})"


def method_reason(ran: str, ticked: list[str]) -> str:
    """Why a judge ran another method than the one ticked, in words."""
    if ran == HEAD:
        return ("a scoring judge scores each answer alone with its reward head or, a reward model, its reward: it "
                "writes no reply to parse, so every method ticked runs as head, measured once")
    if ran == PROBABILITIES:
        return "auto reads the judge's probabilities where its backend gives them, and this one does"
    return "auto parses the judge's reply where its backend gives no token probabilities, as this one does not"


def method_notes(run: ValidationRun) -> list[str]:
    """One line per judge whose method that ran differs from the one ticked: which ran, which was ticked, why."""
    notes = []
    for metrics in run.metrics.values():
        ran, ticked = metrics.get("method"), methods_ticked(run, metrics)
        if ticked not in ([], [ran]):
            notes.append(f"`{metrics['judge']}` ran **{ran}** where {' and '.join(ticked)} "
                         f"{'were' if len(ticked) > 1 else 'was'} ticked: "
                         f"{method_reason(ran, ticked)}.")
    return notes


def confusion_figure(run: ValidationRun, name: str | None = None) -> go.Figure:
    """Gold (rows) against predicted (columns) for one judge and method; unparsed verdicts get their own column."""
    name = name or next(iter(run.verdicts), None)
    fig = go.Figure()
    if name is None:
        return fig
    rows = run.verdicts[name]
    labels = sorted({str(r["gold"]) for r in rows} | {str(r["predicted"]) for r in rows if r["predicted"]})
    if run.manifest.get("data_kind") == "scores":
        fig.update_layout(title="No confusion matrix for numeric scores (see the correlations)", **_LAYOUT)
        return fig
    predicted = [str(r["predicted"]) if r["predicted"] is not None else "unparsed" for r in rows]
    matrix = class_metrics([str(r["gold"]) for r in rows], predicted, [*labels, "unparsed"])["confusion_matrix"]
    fig.add_heatmap(z=matrix["matrix"][: len(labels)], x=matrix["labels"], y=labels, colorscale="Blues",
                    text=matrix["matrix"][: len(labels)], texttemplate="%{text}", showscale=False)
    fig.update_layout(title=f"Confusion: {name.replace('__', ' · ')}", xaxis_title="predicted",
                      yaxis_title="gold", **_LAYOUT)
    return fig


def length_bucket_figure(run: ValidationRun) -> go.Figure:
    """Agreement by the length gap between the two answers (characters), one bar group per judge and method."""
    fig = go.Figure()
    for name, metrics in run.metrics.items():
        buckets = metrics.get("by_length_bucket") or {}
        fig.add_bar(name=name.replace("__", " · "), x=list(buckets),
                    y=[b.get("agreement") for b in buckets.values()],
                    text=[f"n={b.get('n')}" for b in buckets.values()])
    fig.update_layout(title="Agreement by length gap", xaxis_title="answer length gap (characters)",
                      yaxis=dict(range=[0, 1.05]), barmode="group", **{**_LAYOUT, **_LEGEND_BELOW})
    return fig


def calibrated(run: ValidationRun) -> list[str]:
    """The judges and methods with a calibration to plot: those that state a probability for their verdicts."""
    return [name for name, metrics in run.metrics.items() if any(b.get("n") for b in metrics.get("calibration") or [])]


def calibration_figure(run: ValidationRun) -> go.Figure | None:
    """Stated probability of the verdict against how often that verdict was right (probabilities method); None when
    no judge states probabilities (a plot of the diagonal alone would look like a result)."""
    names = calibrated(run)
    if not names:
        return None
    fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect calibration",
                               line=dict(dash="dot", color="#999999")))
    for name in names:
        bins = [b for b in run.metrics[name]["calibration"] if b.get("n")]
        fig.add_scatter(x=[b["mean_stated"] for b in bins], y=[b["observed"] for b in bins],
                        mode="lines+markers", name=name.replace("__", " · "), text=[f"n={b['n']}" for b in bins])
    # A short title: the plot is a third of the row wide, and the axes say the rest.
    fig.update_layout(title="Calibration", xaxis_title="stated probability of the verdict",
                      yaxis_title="observed agreement", xaxis=dict(range=[0, 1]), yaxis=dict(range=[0, 1.05]),
                      **{**_LAYOUT, **_LEGEND_BELOW})
    return fig


def calibration_note(run: ValidationRun) -> str:
    """Which judges have no calibration to show, and why; empty when every one has."""
    missing = [m for name, m in run.metrics.items() if name not in calibrated(run)]
    if not missing:
        return ""
    who = ", ".join(f"`{m['judge']}` · {m['method']}" for m in missing)
    plot = "No calibration plot" if len(missing) == len(run.metrics) else "Not in the calibration plot"
    return (f"*{plot}: {who} state{'s' if len(missing) == 1 else ''} no probability for a verdict (a scoring "
            "judge's head gives scores, a parsed reply a label). Calibration needs the probabilities method on a "
            "judge whose backend reads token probabilities.*")


def _confidence(row: dict) -> str:
    probability = row.get("p_predicted")
    if probability is None and row.get("probabilities") and row.get("predicted") in row["probabilities"]:
        probability = row["probabilities"][row["predicted"]]
    return "" if probability is None else f"{probability:.2f}"


def disagreement_rows(run: ValidationRun, limit: int = 200) -> list[list]:
    """Rows where a judge's verdict differs from the gold label (unparsed included), with the item's text."""
    items = run.items()
    out = []
    for name, rows in run.verdicts.items():
        for row in rows:
            if row["predicted"] == row["gold"]:
                continue
            item = items.get(row["id"])
            text = (item.prompt or item.answer) if item else ""
            out.append([name.replace("__", " · "), row["id"], row["gold"], row["predicted"] or "unparsed",
                        _confidence(row), text[:200]])
    return out[:limit]


def export_validation(run: ValidationRun, kind: str, out_dir: str | Path | None = None) -> Path:
    """The metrics table as CSV, or the whole validation (manifest, metrics, verdicts) as one JSON file."""
    out = Path(out_dir) if out_dir else Path(tempfile.gettempdir()) / "llm-judge-exports" / run.folder.name
    out.mkdir(parents=True, exist_ok=True)
    if kind == "csv":
        headers, rows = metrics_table(run)
        path = out / f"{run.folder.name}-metrics.csv"
        with open(path, "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows([headers, *rows])
        return path
    if kind == "json":
        path = out / f"{run.folder.name}.json"
        data = {"manifest": run.manifest, "metrics": run.metrics, "verdicts": run.verdicts}
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
        return path
    raise ValueError(f"unknown export {kind!r}: use csv or json")
