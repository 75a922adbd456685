"""The dashboard's per-prompt view of a run: filters (disagreements, inconsistent, unparsed), table rows, one record's
detail."""
from __future__ import annotations

from lab.trust import trust_line
from runs.records import SIDES
from runs.store import Run
from runs.views import reasons_markdown, score_rows, total_cell, verdict_line

FILTERS = ("all", "disagreements", "inconsistent", "unparsed")
PROMPT_HEADERS = ["id", "preset", "category", "total A", "total B", "winner", "consistent", "checks A", "checks B"]


def _checks(record: dict, side: str) -> str:
    summary = (record.get("checks_summary") or {}).get(side)  # absent when the prompt has no checks
    return f"{summary['passed']}/{summary['total']}" if summary else ""


def is_unparsed(record: dict) -> bool:
    return record["status"] != "ok"


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
        return [r for r in records if r["consistent"] is False]
    if only == "unparsed":
        return [r for r in records if is_unparsed(r)]
    raise ValueError(f"unknown filter {only!r}: use one of {', '.join(FILTERS)}")


def prompt_rows(run: Run, only: str | None = None) -> list[list]:
    """One row per record (PROMPT_HEADERS); `only` as in filter_records."""
    rows = []
    for r in filter_records(run.records, only):
        consistent = r["consistent"]
        rows.append([r["id"], r["preset"] or "custom", r["category"],
                     total_cell(r, "A"), total_cell(r, "B"), r["winner"] or "unknown",
                     "" if consistent is None else ("yes" if consistent else "no"),
                     _checks(r, "A"), _checks(r, "B")])
    return rows


def prompt_table(run: Run, only: str | None = None) -> tuple[list[str], list[list]]:
    """(headers, rows) of prompt_rows without the columns this run never fills: 'consistent' outside pairwise
    runs, the checks where no prompt had any, 'category' where none was given."""
    rows = prompt_rows(run, only)
    keep = [i for i, name in enumerate(PROMPT_HEADERS)
            if not (name in ("consistent", "checks A", "checks B", "category")
                    and not any(_filled(r, name) for r in run.records))]
    return [PROMPT_HEADERS[i] for i in keep], [[row[i] for i in keep] for row in rows]


def _filled(record: dict, column: str) -> bool:
    if column == "consistent":
        return record.get("consistent") is not None
    if column == "category":
        return bool(record.get("category"))
    return bool((record.get("checks_summary") or {}).get(column[-1]))


def record_keys(run: Run) -> list[tuple[str, str]]:
    return [(r["id"], r["preset"] or "custom") for r in run.records]


def find_record(run: Run, record_id: str, preset: str | None = None) -> dict:
    for r in run.records:
        if r["id"] == record_id and (preset is None or (r["preset"] or "custom") == preset):
            return r
    raise KeyError(f"no record {record_id!r} (preset {preset!r}) in {run.name}")


def record_detail(run: Run, record_id: str, preset: str | None = None) -> dict:
    """Both answers side by side, the scores and the judge's reasons of one record, as plain strings."""
    r = find_record(run, record_id, preset)
    return {
        "id": r["id"], "preset": r["preset"] or "custom", "prompt": r["prompt"], "reference": r["reference"],
        "answer_A": r["answers"]["A"]["text"], "answer_B": r["answers"]["B"]["text"],
        "verdict": verdict_line(r), "scores": score_rows(r), "reasons": reasons_markdown(r), "trust": trust_line(r),
        "checks": {side: (r.get("checks_summary") or {}).get(side) for side in SIDES},
    }


