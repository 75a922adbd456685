"""The Results tab's history of suites and sweeps (evals/outcomes.py): a suite's pass rate per model, a checkpoint's
win rate against its baseline, by date, with their 95% intervals and which judge judged them, in words."""
from __future__ import annotations

from collections import Counter

import plotly.graph_objects as go

from dashboard.charts import history_figure
from dashboard.history import HISTORY_METRICS, history_points, judges_note
from evals.outcomes import OutcomePoint, suite_points, sweep_points

EVAL_METRICS = {
    "suite_pass_rate": "Suite pass rate (cases passed, per suite and model)",
    "sweep_win_rate": "Sweep: win rate against the baseline (per checkpoint)",
}
ALL_METRICS = {**HISTORY_METRICS, **EVAL_METRICS}
EMPTY = {"suite_pass_rate": "No suite has been run yet: `python -m judge test SUITE --model SPEC` saves its outcome "
                            "beside the runs, and each one is a point here.",
         "sweep_win_rate": "No sweep has finished yet: run one from the Training tab's Compare checkpoints panel or "
                           "`python -m judge sweep`; each checkpoint is a point here."}


def outcome_figure(points: list[OutcomePoint], label: str) -> go.Figure:
    """One line per series (a suite and model, or a checkpoint), each point with its Wilson 95% interval."""
    fig = go.Figure()
    for series in dict.fromkeys(p.series for p in points):
        mine = [p for p in points if p.series == series]
        fig.add_scatter(x=[p.created for p in mine], y=[p.value for p in mine], mode="lines+markers", name=series,
                        text=[f"{p.detail} · {p.folder}" for p in mine], hovertemplate="%{y:.0%} %{text}",
                        error_y={"type": "data", "symmetric": False,
                                 "array": [(p.high - p.value) if p.high is not None else 0 for p in mine],
                                 "arrayminus": [(p.value - p.low) if p.low is not None else 0 for p in mine]})
    fig.update_layout(title=f"{label} over time", xaxis_title="when it ran", showlegend=True,
                      yaxis={"range": [0, 1.05], "tickformat": ".0%"})
    return fig


def outcome_note(points: list[OutcomePoint], metric: str) -> str:
    if not points:
        return EMPTY[metric]
    latest = points[-1]
    low, high = (f"{latest.low:.0%}", f"{latest.high:.0%}") if latest.low is not None else ("?", "?")
    what = ("share of the suite's cases that passed" if metric == "suite_pass_rate"
            else "share of prompts won against the baseline (ties half)")
    words = (f"The latest point, {latest.series} ({latest.detail}), is {latest.value:.0%} (95% {low}-{high}): the "
             f"{what}. Two points whose intervals overlap are not shown to differ; a small suite or prompt set "
             "gives wide intervals.")
    judges = Counter(p.judge for p in points)
    if len(judges) > 1:
        who = ", ".join(f"`{judge}` ({n})" for judge, n in judges.items())
        words += (f" **These points were judged by {len(judges)} different judges:** {who}; a step between two of "
                  "them may be the judge, not the model.")
    return words


def history_view(metric: str) -> tuple[go.Figure, str]:
    """The chart and the words for any history metric: a run metric across runs, or a suite's or sweep's."""
    if metric in EVAL_METRICS:
        points = suite_points() if metric == "suite_pass_rate" else sweep_points()
        return outcome_figure(points, EVAL_METRICS[metric]), outcome_note(points, metric)
    points = history_points(None, metric)
    return history_figure([(p.created, p.value) for p in points], HISTORY_METRICS[metric]), judges_note(points)
