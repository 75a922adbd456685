"""Views of a distillation report (lab/distill.py): the before/after table against the teacher, the learning curve
(held-out agreement against the number of training pairs) and the training loss of each criterion's head."""
from __future__ import annotations

import plotly.graph_objects as go

_LAYOUT = dict(template="plotly_white", height=320, margin=dict(l=50, r=20, t=50, b=40))
DISTILL_HEADERS = ["judge", "held-out pairs", "agreement with the teacher [95% CI]", "longer answer wins (same rows)"]


def _interval(found: dict) -> str:
    low, high = found.get("agreement_ci") or (None, None)
    text = f"{found['agreement']:.0%}" if found.get("agreement") is not None else "—"
    return text + (f" [{low:.0%}–{high:.0%}]" if low is not None else "")


def distill_rows(report: dict) -> list[list]:
    """One row per judge: the untrained baseline (before) and the trained student (after)."""
    rows = []
    for role, title in (("baseline", "before: {}"), ("student", "after: the student")):
        found = report.get(role)
        if found:
            rows.append([title.format(found.get("judge", "")), found["n"], _interval(found),
                         f"{found['longer_wins_same_rows']:.0%}"])
    return rows


def learning_curve_figure(report: dict | None) -> go.Figure:
    """Held-out agreement of students trained on growing shares of the training pairs."""
    fig = go.Figure()
    curve = (report or {}).get("learning_curve") or []
    if curve:
        fig.add_scatter(x=[p["train_pairs"] for p in curve], y=[p["agreement"] for p in curve],
                        mode="lines+markers", name="student")
        if report.get("baseline"):
            fig.add_hline(y=report["baseline"]["agreement"], line_dash="dot",
                          annotation_text=f"before: {report['baseline']['judge']}")
    fig.update_layout(title="Learning curve: held-out agreement by training pairs", xaxis_title="training pairs",
                      yaxis_title="agreement with the teacher", yaxis=dict(range=[0, 1.05]), **_LAYOUT)
    return fig


def loss_figure(report: dict | None) -> go.Figure:
    """Each criterion head's mean training log-loss after each optimizer iteration."""
    fig = go.Figure()
    for criterion, losses in ((report or {}).get("loss_curve") or {}).items():
        fig.add_scatter(x=list(range(1, len(losses) + 1)), y=losses, mode="lines", name=criterion)
    fig.update_layout(title="Training loss of each criterion's head", xaxis_title="iteration",
                      yaxis_title="log-loss (pairs)", **_LAYOUT)
    return fig
