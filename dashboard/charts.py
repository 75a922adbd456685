"""Charts of one run (plotly): per-criterion means, outcomes, score distributions, length vs score, history."""
from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

from analysis.stats import count_outcomes, length_stats, summarize_scores
from runs.conclusion import BETTER, FEW, MIXED, NONE, difference_verdict
from runs.records import SIDES, cut_off_at, too_close
from runs.store import Run
from runs.summary import with_new_fields
from runs.views import NO_SCORES

COLORS = {"A": "#1f77b4", "B": "#ff7f0e", "tie": "#999999", "unknown": "#d62728"}
_LAYOUT = dict(template="plotly_white", height=340, margin=dict(l=50, r=20, t=50, b=40))
pio.templates.default = "plotly_white"  # every chart of the app in one style (the Judge Lab's and Training's too)


def criteria_figure(run: Run) -> go.Figure:
    """Mean score per criterion of the run's rubric for A and B, with 95% bootstrap whiskers."""
    rubric = run.rubric
    if not rubric.scored:
        return _no_scores_figure("Mean score per criterion")
    criteria = list(rubric.criteria)
    summary = summarize_scores(run.records, criteria, resamples=1000)
    fig = go.Figure()
    for side in SIDES:
        intervals = [summary[side][c] for c in criteria]
        means = [i.mean for i in intervals]
        fig.add_bar(name=f"Model {side}", x=[c.capitalize() for c in criteria], y=means, marker_color=COLORS[side],
                    error_y=dict(type="data", symmetric=False,
                                 array=[(i.high - i.mean) if i.mean is not None else None for i in intervals],
                                 arrayminus=[(i.mean - i.low) if i.mean is not None else None for i in intervals]))
    fig.update_layout(title=f"Mean score per criterion ({rubric.low}-{rubric.high}), 95% interval", barmode="group",
                      yaxis=dict(range=[min(0, rubric.low), rubric.high * 1.075]), **_LAYOUT)
    return fig


def outcome_verdict(run: Run) -> str:
    """What the outcomes add up to, for the chart's title: a side is named only when the paired difference's
    interval (and the win rate's) excludes no change, so more bars for one side never read as a win by themselves.
    A verdict-only judge's run is read on the win rate's interval alone (it has no totals)."""
    kind, side = difference_verdict(with_new_fields(run.summary, run.records), run.rubric.scored)
    if not run.rubric.scored:
        return {FEW: "too few decided prompts to call a winner",
                NONE: "no detectable difference: the win rate's 95% interval includes 50%",
                BETTER: f"{side} is better: the win rate's 95% interval excludes 50%"}[kind]
    return {FEW: "too few scored prompts to call a winner",
            NONE: "no detectable difference: the mean total's 95% interval includes no change",
            MIXED: f"{side} scores higher on average, but its win rate's 95% interval includes 50%",
            BETTER: f"{side} is better: the 95% intervals exclude no change"}[kind]


def wins_figure(run: Run) -> go.Figure:
    """How many prompts A won, B won, tied (those too close to call said), or got no verdict; the title says what
    the intervals say, not the tallest bar."""
    outcomes = count_outcomes(run.records)
    close = sum(too_close(r) for r in run.records)
    labels = {"A": "A wins", "B": "B wins", "tie": f"Tie ({close} too close to call)" if close else "Tie",
              "unknown": "No verdict"}
    counts = [outcomes[k] for k in labels]
    fig = go.Figure(go.Bar(x=list(labels.values()), y=counts, marker_color=[COLORS[k] for k in labels],
                           text=counts, textposition="auto"))
    fig.update_layout(title=dict(text=f"Outcomes per prompt<br><sup>{outcome_verdict(run)}</sup>"),
                      yaxis_title="prompts", **_LAYOUT)
    return fig


def distribution_figure(run: Run) -> go.Figure:
    """Histogram of totals for each side (unparsed sides left out)."""
    if not run.rubric.scored:
        return _no_scores_figure("Distribution of totals")
    fig = go.Figure()
    for side in SIDES:
        totals = [r["totals"][side] for r in run.records]
        fig.add_histogram(x=[t for t in totals if t is not None], name=f"Model {side}", marker_color=COLORS[side],
                          opacity=0.85, xbins=dict(start=0.5, size=1))  # one bar per integer total
    rubric = run.rubric
    fig.update_layout(title=f"Distribution of totals (of {rubric.max_total})", barmode="group",
                      xaxis=dict(title="total score", range=[rubric.min_total - 0.5, rubric.max_total + 0.5]),
                      yaxis_title="prompts", **_LAYOUT)
    return fig


def length_figure(run: Run) -> go.Figure:
    """Answer length (tokens) against total score, one point per answer; answers with the same length and total
    (many stop at the token cap) are one larger point labelled with their count, so none hide under another."""
    from collections import Counter

    if not run.rubric.scored:
        return _no_scores_figure("Do longer answers score higher?", "see the length-controlled win rate")
    fig = go.Figure()
    for side in SIDES:
        points = Counter((r["answers"][side].get("n_tokens"), r["totals"][side]) for r in run.records)
        points = {p: n for p, n in points.items() if p[0] is not None and p[1] is not None}
        fig.add_scatter(x=[p[0] for p in points], y=[p[1] for p in points], mode="markers+text",
                        text=[f"×{n}" if n > 1 else "" for n in points.values()], textposition="top center",
                        name=f"Model {side}", hovertemplate="%{x} tokens, total %{y}<extra></extra>",
                        marker=dict(color=COLORS[side], size=[8 + 4 * min(n - 1, 5) for n in points.values()],
                                    opacity=0.75))
    rho = length_stats(run.records).preference.spearman
    fig.update_layout(title="Do longer answers score higher?" + _length_words(rho), xaxis_title="answer tokens",
                      yaxis=dict(title=f"total (of {run.rubric.max_total})", dtick=1), **_LAYOUT)
    _mark_token_limits(fig, run.records)
    return fig


def _no_scores_figure(title: str, see: str = "") -> go.Figure:
    """An empty chart that says why it is empty: a verdict-only judge names the better answer and scores nothing."""
    fig = go.Figure()
    fig.update_layout(title=dict(text=f"{title}<br><sup>{NO_SCORES}{'; ' + see if see else ''}</sup>"),
                      xaxis=dict(visible=False), yaxis=dict(visible=False), **_LAYOUT)
    return fig


def _mark_token_limits(fig: go.Figure, records: list[dict]) -> None:
    """A dashed line at each token limit answers were cut off at, saying how many: they pile up there because they
    were stopped, not because they were finished."""
    for limit in sorted({cut_off_at(r, side) for r in records for side in SIDES} - {None}):
        cut = {side: sum(cut_off_at(r, side) == limit for r in records) for side in SIDES}
        fig.add_vline(x=limit, line_dash="dash", line_color="#555555",
                      annotation_text=f"cut off at {limit} tokens (max new tokens): A {cut['A']}, B {cut['B']}",
                      annotation_position="top left", annotation_font_size=11)


def _length_words(rho: float | None) -> str:
    """The length preference in words: the rank correlation of 'how much longer' with 'how much higher scored'."""
    if rho is None:
        return ""
    strength = "hardly" if abs(rho) < 0.2 else "somewhat" if abs(rho) < 0.5 else "strongly"
    way = "the longer answer scores higher" if rho > 0 else "the shorter answer scores higher"
    return f" {strength}: {way} ({rho:+.2f})" if strength != "hardly" else f" hardly ({rho:+.2f})"


def history_figure(points: list[tuple[str, float]], metric_label: str) -> go.Figure:
    fig = go.Figure(go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], mode="lines+markers"))
    fig.update_layout(title=f"{metric_label} across runs", xaxis_title="run created", **_LAYOUT)
    return fig


def figures(run: Run) -> dict[str, go.Figure]:
    return {"criteria": criteria_figure(run), "wins": wins_figure(run), "distribution": distribution_figure(run),
            "length": length_figure(run)}
