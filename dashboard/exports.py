"""Exports of one run: flat CSV, the whole run as JSON, and the export file naming for downloads."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pandas as pd

from dashboard.report import html_report
from judge.rewards import panel_rewards
from runs.records import SIDES
from runs.store import Run

EXPORT_KINDS = {"csv": "records.csv", "json": "run.json", "html": "report.html"}


def flat_record(record: dict) -> dict:
    """One record as flat columns: identifiers, answers, per-criterion scores, totals, verdict, checks, timings."""
    row = {k: record[k] for k in ("id", "preset", "category", "prompt", "reference", "model_a", "model_b",
                                  "judge", "mode", "status", "winner", "consistent")}
    mapped = bool(record["rubric"].get("mapping"))  # a reward model's score: its raw reward gets a column too
    rewards = panel_rewards(record.get("judgement")) if mapped else None
    for side in SIDES:
        answer = record["answers"][side]
        row[f"answer_{side}"] = answer.get("text")
        row[f"tokens_{side}"] = answer.get("n_tokens")
        row[f"seconds_{side}"] = answer.get("seconds")
        scores = record["scores"][side]
        for criterion in record["rubric"]["criteria"]:  # every criterion gets its column, empty when unparsed
            row[f"{criterion}_{side}"] = scores.get(criterion) if scores else None
        if mapped:
            row[f"reward_{side}"] = rewards[SIDES.index(side)] if rewards else None
        row[f"total_{side}"] = record["totals"][side]
        reasons = record["reasons"].get(side)
        row[f"reasons_{side}"] = reasons if isinstance(reasons, str) or reasons is None else json.dumps(reasons)
        checks = (record.get("checks_summary") or {}).get(side)
        row[f"checks_passed_{side}"] = checks.get("passed") if checks else None
        row[f"checks_total_{side}"] = checks.get("total") if checks else None
    for key, value in record["timings"].items():
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


def export_run(run: Run, kind: str, out_dir: str | Path | None = None) -> Path:
    """Write the run as `kind` (csv, json or html) into `out_dir` (default: a temporary folder per run) and return
    the file, named RUN-records.csv, RUN-run.json or RUN-report.html."""
    if kind not in EXPORT_KINDS:
        raise ValueError(f"unknown export {kind!r}: use one of {', '.join(EXPORT_KINDS)}")
    out = Path(out_dir) if out_dir else Path(tempfile.gettempdir()) / "llm-judge-exports" / run.name
    out.mkdir(parents=True, exist_ok=True)
    writers = {"csv": export_csv, "json": export_json, "html": html_report}
    return Path(writers[kind](run, out / f"{run.name}-{EXPORT_KINDS[kind]}"))
