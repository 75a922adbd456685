"""People's votes on comparison records: votes.jsonl beside records.jsonl (analysis/agreement.py compares them
with the judge)."""
from __future__ import annotations

from pathlib import Path

from analysis.agreement import VOTES
from basics import UserFacingError, append_jsonl, now_iso, read_jsonl, results_dir
from runs.store import read_records

VOTES_FILE = "votes.jsonl"


def record_vote(run_dir: str | Path, record_id: str, vote: str, preset: str | None = None, voter: str = "") -> dict:
    """Append one vote to the run's votes.jsonl (flushed and fsynced); returns the line written."""
    if vote not in VOTES:
        raise UserFacingError(f"unknown vote {vote!r}: the allowed votes are {', '.join(VOTES)}")
    folder = Path(run_dir)
    if not (folder / "run.json").is_file():
        raise UserFacingError(f"{folder} is not a run folder (no run.json): run a comparison before voting")
    if not str(record_id or "").strip():
        raise UserFacingError("a vote needs the id of the record it is about")
    # Read per vote, so a vote on a record that is not in the run (a stale page, a hand-made call) is refused, not
    # kept where no agreement can ever use it.
    keys = {(r["id"], r.get("preset")) for r in read_records(folder)}
    if (str(record_id), preset) not in keys and not (preset is None and str(record_id) in {k for k, _ in keys}):
        shown = f"{str(record_id)[:60]!r}" + (f" at preset {str(preset)[:20]!r}" if preset is not None else "")
        raise UserFacingError(f"run {folder.name} has no record {shown}: vote on a comparison shown on the page")
    line = {"id": str(record_id), "preset": preset, "vote": vote, "voter": voter or "", "time": now_iso()}
    append_jsonl(folder / VOTES_FILE, line)
    return line


def read_votes(run_dir: str | Path) -> list[dict]:
    """Every complete vote of a run in the order cast; no file means no votes; a torn last line is skipped."""
    path = Path(run_dir) / VOTES_FILE
    if not path.is_file():
        return []
    return [vote for vote in read_jsonl(path) if vote.get("vote") in VOTES]


def runs_with_votes(root: str | Path | None = None) -> list[Path]:
    """Run folders under the results folder that people voted on, newest first (their votes can be gold labels)."""
    root = Path(root) if root else results_dir()
    if not root.is_dir():
        return []
    return sorted((f for f in root.iterdir() if (f / VOTES_FILE).is_file()), key=lambda f: f.name, reverse=True)
