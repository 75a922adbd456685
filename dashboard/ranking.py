"""Bradley-Terry ranking of the models (or model @ preset) of several runs pooled together."""
from __future__ import annotations

from analysis.ranking import bradley_terry_with_ci, comparisons_from_records
from runs.store import Run


def ranking_comparisons(runs: list[Run]) -> list[tuple]:
    """Every decided A-vs-B verdict of the runs, between entries named by spec, plus '@ preset' when presets vary."""
    records = [r for run in runs for r in run.records]
    several_presets = len({r["preset"] for r in records}) > 1
    named = []
    for r in records:
        suffix = f" @ {r['preset']}" if several_presets else ""
        named.append({**r, "model_a": f"{r['model_a']}{suffix}", "model_b": f"{r['model_b']}{suffix}"})
    return comparisons_from_records(named)


def model_ranking(runs: list[Run], seed: int = 0):
    """Bradley-Terry ranking with bootstrap intervals over several runs (three or more models or model@presets).

    Entries that never meet are linked only through the fit's prior, so their relative order is weak evidence:
    the intervals say so by overlapping.
    """
    comparisons = ranking_comparisons(runs)
    if len({name for c in comparisons for name in c[:2]}) < 2:
        return None
    return bradley_terry_with_ci(comparisons, seed=seed)


def ranking_markdown(runs: list[Run]) -> str:
    """The ranking as a table: a shared rank ('1=') where strengths are equal as shown, and every interval, with
    what they mean in words."""
    ranking = model_ranking(runs)
    if ranking is None:
        return "No decided verdicts between two or more models in the selected runs."
    ranks = ranking.ranks()
    shared = {rank for rank in ranks.values() if list(ranks.values()).count(rank) > 1}
    lines = ["| rank | model | strength | 95% interval |", "|---|---|---|---|"]
    for name in ranking.ranking:
        score, rank = ranking.models[name], ranks[name]
        shown = f"{rank}=" if rank in shared else str(rank)
        lines.append(f"| {shown} | `{name}` | {score.score:.2f} | {score.low:.2f}-{score.high:.2f} |")
    lines += ["", "A strength of 2 beats a strength of 1 two times in three. "
              + ("'=' marks models with equal strengths: the verdicts do not order them. " if shared else "")
              + "Where two intervals overlap, the runs do not settle which of the two models is stronger."]
    return "\n".join(lines)
