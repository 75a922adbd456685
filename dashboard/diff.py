"""What changed between two runs: records matched by (id, preset), winners and total deltas, headline numbers."""
from __future__ import annotations

from dashboard.history import HISTORY_METRICS, aggregates
from runs.store import Run

CHANGE_HEADERS = ["id", "preset", "winner before", "winner after", "Δ total A", "Δ total B", "changed"]


def _delta(before, after):
    return None if before is None or after is None else round(after - before, 4)


def compare_runs(run1: Run, run2: Run) -> dict:
    """What changed from run1 ("before") to run2 ("after").

    Records are matched by (id, preset). `changes` has one row per matched record (CHANGE_HEADERS: winners before
    and after, total deltas after - before); `aggregate` holds before/after/delta of each headline number of the
    whole runs (see aggregates), empty when no record matches; `only_before` / `only_after` list the unmatched
    keys.
    """
    before = {(r["id"], r["preset"] or "custom"): r for r in run1.records}
    after = {(r["id"], r["preset"] or "custom"): r for r in run2.records}
    changes = []
    for key, r1 in before.items():
        r2 = after.get(key)
        if r2 is None:
            continue
        t1, t2 = r1["totals"], r2["totals"]
        changes.append([key[0], key[1], r1["winner"] or "unknown", r2["winner"] or "unknown",
                        _delta(t1["A"], t2["A"]), _delta(t1["B"], t2["B"]), r1["winner"] != r2["winner"]])
    a1, a2 = aggregates(run1), aggregates(run2)
    # Runs with no prompt in common have no change to show: their headline numbers measure different prompts.
    aggregate = {k: {"before": a1[k], "after": a2[k], "delta": _delta(a1[k], a2[k])} for k in a1} if changes else {}
    return {"changes": changes, "aggregate": aggregate, "n_matched": len(changes),
            "n_winner_changed": sum(row[-1] for row in changes),
            "only_before": sorted(set(before) - set(after)), "only_after": sorted(set(after) - set(before))}


def compare_markdown(result: dict, name1: str, name2: str) -> str:
    if not result["n_matched"]:
        return (f"**{name1}** → **{name2}**: **no prompt in common** (records are matched by prompt id and preset; "
                f"the first run has {len(result['only_before'])}, the second {len(result['only_after'])}, none with "
                "the same id and preset), so there is no change to show. Pick an earlier run of the same prompt set "
                "at the same preset.")
    lines = [f"**{name1}** → **{name2}**: {result['n_matched']} matched prompts, "
             f"winner changed on {result['n_winner_changed']}.", "", "| metric | before | after | Δ |",
             "|---|---|---|---|"]
    for key, v in result["aggregate"].items():
        lines.append(f"| {HISTORY_METRICS.get(key, key)} | {_num(v['before'])} | {_num(v['after'])} | "
                     f"{_num(v['delta'], signed=True)} |")
    if result["only_before"] or result["only_after"]:
        lines.append(f"\nUnmatched: {len(result['only_before'])} only in the first run, "
                     f"{len(result['only_after'])} only in the second.")
    return "\n".join(lines)


def _num(value, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.3g}" if signed else f"{value:.3g}"


