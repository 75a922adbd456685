"""A sweep's summary: each checkpoint's win rate against the baseline (Wilson 95%), its mean criterion scores, a
Bradley-Terry ranking with bootstrap intervals, the best checkpoint and whether its lead over the next is real, and
the chart of all of it against the training step (loss on a second axis)."""
from __future__ import annotations

from dataclasses import asdict

from analysis.difference import paired_difference
from analysis.ranking import bradley_terry_with_ci, comparisons_from_records
from analysis.stats import mean_with_ci, rubric_of, win_rate
from basics import write_atomic, write_json_atomic
from evals.outcomes import SWEEP_SUMMARY
from evals.sweep import Checkpoint, SweepResult

SUMMARY_FILE = SWEEP_SUMMARY  # written last, as a run's: its presence means the sweep finished
CHART_FILE = "sweep.html"
EVEN = 0.5


def _flipped(record: dict) -> dict:
    """A record seen from B's side: so the best checkpoint is always A in its head-to-head."""
    swap = {"A": "B", "B": "A"}
    return {**record, "model_a": record["model_b"], "model_b": record["model_a"],
            "winner": swap.get(record.get("winner"), record.get("winner")),
            "totals": {side: (record.get("totals") or {}).get(swap[side]) for side in ("A", "B")},
            "scores": {side: (record.get("scores") or {}).get(swap[side]) for side in ("A", "B")}}


def _seen_as_a(spec: str, records: dict) -> list[dict]:
    """Every record in which `spec` answered, turned so it is A; one per (prompt, preset): in single mode the same
    answer gets the same scores in every pairing, so counting it twice would only narrow the intervals."""
    seen, kept = set(), []
    for (a, b), pair in records.items():
        if spec not in (a, b):
            continue
        for record in pair:
            key = (record["id"], record.get("preset"))
            if key not in seen:
                seen.add(key)
                kept.append(record if a == spec else _flipped(record))
    return kept


def head_to_head(best: str, other: str, records: dict) -> list[dict]:
    """Records of best (as A) against other: their own pairing where it was run, else each prompt's totals from
    the runs each took part in (in single mode a total is the answer's own score), the higher total winning."""
    if (best, other) in records:
        return list(records[(best, other)])
    if (other, best) in records:
        return [_flipped(r) for r in records[(other, best)]]
    theirs = {(r["id"], r.get("preset")): r for r in _seen_as_a(other, records)}
    pairs = []
    for record in _seen_as_a(best, records):
        match = theirs.get((record["id"], record.get("preset")))
        a, b = (record.get("totals") or {}).get("A"), (match and (match.get("totals") or {}).get("A"))
        if match is None or a is None or b is None:
            continue
        winner = "A" if a > b else "B" if b > a else "tie"
        pairs.append({"id": record["id"], "preset": record.get("preset"), "winner": winner,
                      "totals": {"A": a, "B": b}})
    return pairs


def lead_sentence(best: Checkpoint, other: Checkpoint, pairs: list[dict]) -> dict:
    """Whether best's lead over the next is real: its head-to-head win rate's interval excludes even and the paired
    difference in total (a paired test over prompts, analysis/difference.py) agrees; else the prompts needed."""
    rate, diff = win_rate(pairs), paired_difference(pairs)
    shown = (f"head to head it wins {rate.rate:.0%} of {rate.wins + rate.ties + rate.losses} prompts "
             f"(95% {rate.low:.0%}-{rate.high:.0%})") if rate.rate is not None else "no head-to-head verdict was read"
    paired = (f"the paired difference in total is {diff.mean:+.2f} points (95% {diff.low:+.2f} to {diff.high:+.2f})"
              if diff.mean is not None else "no paired totals to test")
    rate_real = rate.low is not None and rate.low > EVEN
    test_real = diff.low is not None and diff.low > 0
    real = rate_real and test_real
    if real:
        words = (f"Its lead over {other.label} is real: {shown}, an interval that excludes an even split, and a "
                 f"paired test over prompts agrees: {paired}.")
    else:
        if diff.prompts_needed:
            needed = (f"at the observed effect an estimated {diff.prompts_needed:,} prompts would be needed to show it "
                      f"(80% power, 5% two-sided; {diff.n} were run)")
        elif diff.mean == 0:
            needed = "the totals were equal on average, so more prompts would not be expected to show a difference"
        else:
            needed = "the prompts needed cannot be estimated (the differences have no spread to estimate from)"
        words = f"Its lead over {other.label} is not shown to be real: {shown}; {paired}; {needed}."
    return {"over": other.label, "real": real, "win_rate": asdict(rate), "paired_difference": diff.to_dict(),
            "sentence": words}


def criterion_means(records: list[dict]) -> dict[str, dict]:
    rubric = rubric_of(records)
    means = {}
    for criterion in rubric.criteria:
        values = [r["scores"]["A"][criterion] for r in records
                  if (r.get("scores") or {}).get("A") and r["scores"]["A"].get(criterion) is not None]
        means[criterion] = asdict(mean_with_ci(values))
    return means


def summarize_sweep(result: SweepResult) -> dict:
    """The numbers and the sentence, as summary.json holds them."""
    all_records = [r for pair in result.records.values() for r in pair]
    ranking = bradley_terry_with_ci(comparisons_from_records(all_records))
    ranks = ranking.ranks()
    rows = []
    for checkpoint in result.checkpoints:
        against = result.records.get((checkpoint.spec, result.baseline))
        strength = ranking.models.get(checkpoint.spec)
        rows.append({**asdict(checkpoint), "is_baseline": checkpoint.spec == result.baseline,
                     "win_rate": asdict(win_rate(against)) if against is not None else None,
                     "criteria": criterion_means(_seen_as_a(checkpoint.spec, result.records)),
                     "bradley_terry": asdict(strength) if strength else None, "rank": ranks.get(checkpoint.spec)})
    baseline = ranking.models.get(result.baseline)
    ranked = sorted((c for c in result.checkpoints if c.spec in ranking.models),
                    key=lambda c: ranking.ranking.index(c.spec))
    summary = {"baseline": result.baseline, "baseline_bradley_terry": asdict(baseline) if baseline else None,
               "checkpoints": rows, "best": None, "lead": None, "pairings": result.pairings,
               "answers": {"generated": result.generated, "reused": result.reused}}
    if ranked:
        best = ranked[0]
        s = ranking.models[best.spec]
        summary["best"] = best.label
        summary["sentence"] = (f"Best checkpoint: {best.label} (Bradley-Terry strength {s.score:.2f}, 95% "
                               f"{s.low:.2f}-{s.high:.2f}).")
        if len(ranked) > 1:
            summary["lead"] = lead_sentence(best, ranked[1], head_to_head(best.spec, ranked[1].spec, result.records))
            summary["sentence"] += " " + summary["lead"]["sentence"]
    else:
        summary["sentence"] = "No verdict was read in any pairing, so no checkpoint can be named the best."
    return summary


def rate_text(rate: dict | None) -> str:
    """A win rate with its Wilson 95% interval, or "no verdict"."""
    if not rate or rate.get("rate") is None:
        return "no verdict"
    return f"{rate['rate']:.0%} (95% {rate['low']:.0%}-{rate['high']:.0%})"


def means_text(row: dict) -> str:
    """A summary row's mean criterion scores, "relevance 3.20, coherence 3.00"; empty where none was read."""
    return ", ".join(f"{name} {m['mean']:.2f}" for name, m in row["criteria"].items() if m["mean"] is not None)


def strength_text(row: dict) -> str:
    """A summary row's Bradley-Terry strength with its interval, "1.14 (0.95-1.37)"; empty where it is not rated."""
    bt = row["bradley_terry"]
    return f"{bt['score']:.2f} ({bt['low']:.2f}-{bt['high']:.2f})" if bt else ""


def text_lines(summary: dict) -> list[str]:
    """The sweep in lines for a terminal: one per checkpoint, then the sentence."""
    lines = [f"baseline: {summary['baseline']}"]
    for row in summary["checkpoints"]:
        step = f"step {row['step']}" if row["step"] is not None else ""
        rate = "the baseline" if row["is_baseline"] else f"wins {rate_text(row['win_rate'])} against the baseline"
        strength = f"strength {strength_text(row)}, rank {row['rank']}" if row["bradley_terry"] else ""
        lines.append("  ".join(part for part in (row["label"], step, rate, means_text(row), strength) if part))
    lines.append(summary["sentence"])
    return lines


def write_summary(result: SweepResult) -> dict:
    """summary.json and the chart in the sweep folder; summary.json last."""
    summary = summarize_sweep(result)
    write_chart(summary, result.folder / CHART_FILE)
    write_json_atomic(result.folder / SUMMARY_FILE, summary)
    return summary


def write_chart(summary: dict, path) -> None:
    """sweep_figure as a page that opens offline, like the report."""
    html = sweep_figure(summary).to_html(include_plotlyjs=True, full_html=True).encode("utf-8")
    write_atomic(path, lambda f: f.write(html))


def sweep_figure(summary: dict):
    """Win rate against the baseline and each checkpoint's Bradley-Terry chance of beating it, by training step (or
    by position where steps are unknown), mean criterion scores below, the training loss on a second axis."""
    from plotly.subplots import make_subplots

    rows = summary["checkpoints"]
    by_step = all(row["step"] is not None for row in rows)
    x = [row["step"] if by_step else row["label"] for row in rows]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, specs=[[{"secondary_y": True}], [{}]],
                        subplot_titles=("Against the baseline", "Mean criterion scores"))
    rates = [row["win_rate"] or {} for row in rows]
    fig.add_scatter(x=x, y=[r.get("rate") for r in rates], name="win rate (Wilson 95%)", mode="lines+markers",
                    error_y={"type": "data", "symmetric": False,
                             "array": [(r["high"] - r["rate"]) if r.get("rate") is not None else None for r in rates],
                             "arrayminus": [(r["rate"] - r["low"]) if r.get("rate") is not None else None
                                            for r in rates]}, row=1, col=1)
    base = (summary.get("baseline_bradley_terry") or {}).get("score")
    if base:
        # Strengths as the chance of beating the baseline, s / (s + s_baseline): on the win rate's own 0-1 scale.
        chance = [(bt["score"] / (bt["score"] + base), bt["low"] / (bt["low"] + base), bt["high"] / (bt["high"] + base))
                  if (bt := row["bradley_terry"]) else (None, None, None) for row in rows]
        fig.add_scatter(x=x, y=[c[0] for c in chance], name="Bradley-Terry P(beats baseline), 95%",
                        mode="lines+markers", error_y={"type": "data", "symmetric": False,
                                                       "array": [c[2] - c[0] if c[0] is not None else None
                                                                 for c in chance],
                                                       "arrayminus": [c[0] - c[1] if c[0] is not None else None
                                                                      for c in chance]}, row=1, col=1)
    curve = max((row["loss_curve"] for row in rows), key=len, default=[])
    if curve and by_step:
        fig.add_scatter(x=[p["step"] for p in curve], y=[p["loss"] for p in curve], name="training loss",
                        mode="lines", line={"dash": "dot"}, row=1, col=1, secondary_y=True)
        fig.update_yaxes(title_text="loss", row=1, col=1, secondary_y=True)
    for criterion in dict.fromkeys(name for row in rows for name in row["criteria"]):
        fig.add_scatter(x=x, y=[(row["criteria"].get(criterion) or {}).get("mean") for row in rows], name=criterion,
                        mode="lines+markers", row=2, col=1)
    fig.update_yaxes(title_text="share", range=[0, 1], row=1, col=1, secondary_y=False)
    fig.update_xaxes(title_text="training step" if by_step else "checkpoint", row=2, col=1)
    fig.update_layout(height=700, title=f"Checkpoint sweep: best {summary['best'] or 'not known'}")
    return fig
