"""Saved runs as data for the results dashboard: list, load, per-prompt tables, run-to-run comparison, history."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from judge.runs import read_records
from judge.stats import bradley_terry_with_ci, comparisons_from_records
from judge.votes import judge_agreement, read_votes

SIDES = ("A", "B")
FILTERS = ("all", "disagreements", "inconsistent", "unparsed")
PROMPT_HEADERS = ["id", "preset", "category", "total A", "total B", "winner", "consistent", "checks A", "checks B"]
CHANGE_HEADERS = ["id", "preset", "winner before", "winner after", "Δ total A", "Δ total B", "changed"]
HISTORY_METRICS = {
    "win_rate_A": "Win rate of A (ties = ½)",
    "mean_total_A": "Mean total of A",
    "mean_total_B": "Mean total of B",
    "unparsed": "Unparsed records",
    "consistency": "Position consistency (pairwise)",
}


@dataclass
class RunInfo:
    """One line of the runs list: enough to pick a run without loading its statistics."""

    folder: str  # the run folder's name (its run id)
    path: Path
    created: str
    models: dict  # {"A": spec, "B": spec, "judge": spec}
    mode: str
    n: int  # records saved so far
    finished: bool  # summary.json exists
    mean_total: dict  # {"A": float | None, "B": float | None}
    wins: dict  # {"A": n, "B": n, "tie": n, "unknown": n}

    def label(self) -> str:
        state = "" if self.finished else ", unfinished"
        return (f"{self.folder} · {self.models.get('A')} vs {self.models.get('B')} · {self.mode} · "
                f"{self.n} records{state}")


@dataclass
class Run:
    folder: Path
    manifest: dict
    records: list[dict]
    summary: dict  # summary.json, or judge.compare.summarize(records) for an unfinished run
    finished: bool = field(default=True)

    @property
    def name(self) -> str:
        return self.folder.name


def _results_dir(results_dir) -> Path:
    if results_dir is not None:
        return Path(results_dir)
    # Read at call time, so a test (or a user) may point the app elsewhere after import.
    import os

    from judge.runs import REPO_ROOT
    return Path(os.environ.get("LLM_JUDGE_RESULTS") or REPO_ROOT / "results")


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _models(manifest: dict, records: list[dict]) -> dict:
    config = manifest.get("config") or {}
    first = records[0] if records else {}
    return {"A": config.get("model_a") or first.get("model_a"), "B": config.get("model_b") or first.get("model_b"),
            "judge": config.get("judge") or first.get("judge")}


def _quick_counts(records: list[dict]) -> tuple[dict, dict]:
    winners = [r.get("winner") for r in records]
    wins = {"A": winners.count("A"), "B": winners.count("B"), "tie": winners.count("tie"),
            "unknown": winners.count(None)}
    means = {}
    for side in SIDES:
        values = [(r.get("totals") or {}).get(side) for r in records]
        values = [v for v in values if v is not None]
        means[side] = round(sum(values) / len(values), 3) if values else None
    return means, wins


def list_runs(results_dir=None) -> list[RunInfo]:
    """Every run folder (one with a run.json) under `results_dir`, newest first; broken folders are skipped."""
    root = _results_dir(results_dir)
    if not root.is_dir():
        return []
    runs = []
    for folder in root.iterdir():
        manifest = _read_json(folder / "run.json") if folder.is_dir() else None
        if manifest is None or not (folder / "records.jsonl").is_file():
            continue
        records = read_records(folder)
        summary = _read_json(folder / "summary.json")
        means, wins = _quick_counts(records)
        runs.append(RunInfo(
            folder=folder.name, path=folder, created=str(manifest.get("created") or ""),
            models=_models(manifest, records), mode=str((manifest.get("config") or {}).get("mode") or
                                                     (records[0].get("mode") if records else "") or ""),
            n=len(records), finished=summary is not None, mean_total=means, wins=wins))
    return sorted(runs, key=lambda r: (r.created, r.folder), reverse=True)


def load_run(folder) -> Run:
    """A run folder's manifest, records and summary; an unfinished run (no summary.json) is summarised here."""
    from judge.compare import summarize
    from models.errors import UserFacingError

    folder = Path(folder)
    manifest = _read_json(folder / "run.json")
    if manifest is None or not (folder / "records.jsonl").is_file():
        raise UserFacingError(f"{folder} is not a run folder (no readable run.json and records.jsonl)")
    records = read_records(folder)
    summary = _read_json(folder / "summary.json")
    finished = summary is not None
    if summary is None:
        summary = summarize(records)
    return Run(folder, manifest, records, summary, finished)


def resolve_run(name_or_path, results_dir=None) -> Run:
    """load_run by folder name (inside the results folder) or by path."""
    path = Path(name_or_path)
    if not path.is_dir():
        path = _results_dir(results_dir) / str(name_or_path)
    return load_run(path)


# ---- per-prompt table -------------------------------------------------------------------------------------------
def _checks(record: dict, side: str) -> str:
    summary = (record.get("checks_summary") or {}).get(side)
    return f"{summary['passed']}/{summary['total']}" if summary else ""


def is_unparsed(record: dict) -> bool:
    return record.get("status") != "ok"


def disagreement_keys(records: list[dict]) -> set[tuple]:
    """(id, preset) of the records the dashboard calls *disagreements*: the verdict is not settled.

    A record is one when either
    - the same prompt id got a different winner under another sampling preset of the run (p1 says A, p2 says B),
    - or the judge did not separate the answers on it: winner "tie" (equal totals in single mode, a tie or an
      order-inconsistent verdict in pairwise mode) or None (a reply was unparsed).
    """
    by_id: dict = {}
    for r in records:
        by_id.setdefault(r.get("id"), set()).add(r.get("winner"))
    return {(r.get("id"), r.get("preset")) for r in records
            if len(by_id[r.get("id")]) > 1 or r.get("winner") not in SIDES}


def filter_records(records: list[dict], only: str | None = None) -> list[dict]:
    """The records kept by a filter: None/"all", "disagreements" (see disagreement_keys), "inconsistent"
    (pairwise verdict flipped when the answers were swapped: consistent is False), "unparsed" (status not ok)."""
    if only in (None, "", "all"):
        return list(records)
    if only == "disagreements":
        keys = disagreement_keys(records)
        return [r for r in records if (r.get("id"), r.get("preset")) in keys]
    if only == "inconsistent":
        return [r for r in records if r.get("consistent") is False]
    if only == "unparsed":
        return [r for r in records if is_unparsed(r)]
    raise ValueError(f"unknown filter {only!r}: use one of {', '.join(FILTERS)}")


def prompt_rows(run: Run, only: str | None = None) -> list[list]:
    """One row per record (PROMPT_HEADERS); `only` as in filter_records."""
    rows = []
    for r in filter_records(run.records, only):
        totals = r.get("totals") or {}
        consistent = r.get("consistent")
        rows.append([r.get("id"), r.get("preset") or "custom", r.get("category") or "",
                     _fmt(totals.get("A")), _fmt(totals.get("B")), r.get("winner") or "unknown",
                     "" if consistent is None else ("yes" if consistent else "no"),
                     _checks(r, "A"), _checks(r, "B")])
    return rows


def _fmt(value) -> str:
    return "unparsed" if value is None else f"{value:g}"


def record_keys(run: Run) -> list[tuple[str, str]]:
    return [(r.get("id"), r.get("preset") or "custom") for r in run.records]


def find_record(run: Run, record_id: str, preset: str | None = None) -> dict:
    for r in run.records:
        if r.get("id") == record_id and (preset is None or (r.get("preset") or "custom") == preset):
            return r
    raise KeyError(f"no record {record_id!r} (preset {preset!r}) in {run.name}")


def record_detail(run: Run, record_id: str, preset: str | None = None) -> dict:
    """Both answers side by side, the scores and the judge's reasons of one record, as plain strings."""
    from judge.views import reasons_markdown, score_rows, verdict_line

    r = find_record(run, record_id, preset)
    answers = r.get("answers") or {}
    return {
        "id": r.get("id"), "preset": r.get("preset") or "custom", "prompt": r.get("prompt") or "",
        "reference": r.get("reference"),
        "answer_A": (answers.get("A") or {}).get("text") or "", "answer_B": (answers.get("B") or {}).get("text") or "",
        "verdict": verdict_line(r), "scores": score_rows(r), "reasons": reasons_markdown(r),
        "checks": {side: (r.get("checks_summary") or {}).get(side) for side in SIDES},
    }


# ---- aggregates, comparison, history ------------------------------------------------------------------------------
def _stats(run: Run) -> dict:
    return run.summary.get("stats") or {}


def win_rate_a(run: Run) -> float | None:
    return (_stats(run).get("win_rate") or {}).get("rate")


def aggregates(run: Run) -> dict:
    """The headline numbers of a run, as used by compare_runs and history."""
    mean_total = run.summary.get("mean_total") or {}
    return {
        "win_rate_A": win_rate_a(run),
        "mean_total_A": mean_total.get("A"), "mean_total_B": mean_total.get("B"),
        "unparsed": run.summary.get("unparsed"),
        "consistency": (_stats(run).get("position") or {}).get("consistency_rate"),
    }


def _delta(before, after):
    return None if before is None or after is None else round(after - before, 4)


def compare_runs(run1: Run, run2: Run) -> dict:
    """What changed from run1 ("before") to run2 ("after").

    Records are matched by (id, preset). `changes` has one row per matched record (CHANGE_HEADERS: winners before
    and after, total deltas after - before); `aggregate` holds before/after/delta of each headline number of the
    whole runs (see aggregates); `only_before` / `only_after` list the unmatched keys.
    """
    before = {(r.get("id"), r.get("preset") or "custom"): r for r in run1.records}
    after = {(r.get("id"), r.get("preset") or "custom"): r for r in run2.records}
    changes = []
    for key, r1 in before.items():
        r2 = after.get(key)
        if r2 is None:
            continue
        t1, t2 = r1.get("totals") or {}, r2.get("totals") or {}
        changes.append([key[0], key[1], r1.get("winner") or "unknown", r2.get("winner") or "unknown",
                        _delta(t1.get("A"), t2.get("A")), _delta(t1.get("B"), t2.get("B")),
                        r1.get("winner") != r2.get("winner")])
    a1, a2 = aggregates(run1), aggregates(run2)
    aggregate = {k: {"before": a1[k], "after": a2[k], "delta": _delta(a1[k], a2[k])} for k in a1}
    return {"changes": changes, "aggregate": aggregate, "n_matched": len(changes),
            "n_winner_changed": sum(row[-1] for row in changes),
            "only_before": sorted(set(before) - set(after)), "only_after": sorted(set(after) - set(before))}


def compare_markdown(result: dict, name1: str, name2: str) -> str:
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


def history(results_dir=None, metric: str = "win_rate_A") -> list[tuple[str, float]]:
    """(created, value) of `metric` (a key of HISTORY_METRICS) for every run that has it, oldest first."""
    if metric not in HISTORY_METRICS:
        raise ValueError(f"unknown metric {metric!r}: use one of {', '.join(HISTORY_METRICS)}")
    points = []
    for info in reversed(list_runs(results_dir)):
        value = aggregates(load_run(info.path))[metric]
        if value is not None:
            points.append((info.created, value))
    return points


def summary_markdown(run: Run) -> str:
    """The run's headline numbers in words, for the dashboard and the HTML report."""
    s, stats = run.summary, _stats(run)
    models = _models(run.manifest, run.records)
    wr = stats.get("win_rate") or {}
    pos = stats.get("position") or {}
    wins = s.get("wins") or {}
    mean = s.get("mean_total") or {}
    lines = [f"**A** = `{models['A']}` · **B** = `{models['B']}` · judge `{models['judge']}` · "
             f"mode {run.manifest.get('config', {}).get('mode', '?')} · {s.get('n', 0)} records"
             + ("" if run.finished else " · **unfinished run** (summary computed from the records saved so far)")]
    if wr.get("rate") is not None:
        lines.append(f"- **Win rate of A:** {wr['rate']:.0%} (95% interval {wr['low']:.0%}–{wr['high']:.0%}; "
                     f"ties count ½) — A won {wins.get('A', 0)}, B won {wins.get('B', 0)}, "
                     f"{wins.get('tie', 0)} ties, {wins.get('unknown', 0)} without a verdict")
    else:
        lines.append("- **Win rate of A:** no decided records")
    lines.append(f"- **Mean total (of 12):** A {_num(mean.get('A'))} · B {_num(mean.get('B'))}")
    if pos.get("consistency_rate") is not None:
        lines.append(f"- **Position consistency:** {pos['consistency_rate']:.0%} of {pos['n']} pairwise records kept "
                     f"their verdict when the answers were swapped")
    else:
        lines.append("- **Position consistency:** n/a (needs pairwise mode with swapping)")
    lines.append(f"- **Unparsed:** {s.get('unparsed', 0)} of {s.get('n', 0)} records had a judge reply that "
                 "could not be read")
    votes = read_votes(run.folder)
    if votes:
        agreement = judge_agreement(run.records, votes)
        kappa = "n/a" if agreement.kappa is None else f"{agreement.kappa:.2f}"
        rate = "n/a" if agreement.agreement is None else f"{agreement.agreement:.0%}"
        lines.append(f"- **Judge vs people:** agrees on {rate} of {agreement.n_usable} voted records "
                     f"(Cohen's kappa {kappa}; {agreement.n_votes} votes in all)")
    return "\n".join(lines)


def ranking_comparisons(runs: list[Run]) -> list[tuple]:
    """Every decided A-vs-B verdict of the runs, between entries named by spec, plus '@ preset' when presets vary."""
    records = [r for run in runs for r in run.records]
    several_presets = len({r.get("preset") for r in records}) > 1
    named = []
    for r in records:
        suffix = f" @ {r.get('preset')}" if several_presets else ""
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
    ranking = model_ranking(runs)
    if ranking is None:
        return "No decided verdicts between two or more models in the selected runs."
    lines = ["| rank | model | strength | 95% interval |", "|---|---|---|---|"]
    for place, name in enumerate(ranking.ranking, 1):
        score = ranking.models[name]
        lines.append(f"| {place} | `{name}` | {score.score:.2f} | {score.low:.2f}-{score.high:.2f} |")
    return "\n".join(lines)
