"""People's votes on comparison records (votes.jsonl beside records.jsonl) and the judge's agreement with them."""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from judge.runs import now_iso
from judge.stats import agreement_rate, cohen_kappa
from models.errors import UserFacingError

VOTES_FILE = "votes.jsonl"
VOTES = ("A", "B", "tie", "both_bad")
# The judge only says A, B or tie. "Both are bad" says neither answer is better, so for agreement and kappa it
# is a tie: a judge that calls a tie (or scores both equally) on two bad answers agrees with the person.
VOTE_AS_VERDICT = {"A": "A", "B": "B", "tie": "tie", "both_bad": "tie"}


def record_vote(run_dir: str | Path, record_id: str, vote: str, preset: str | None = None, voter: str = "") -> dict:
    """Append one vote to the run's votes.jsonl (flushed and fsynced); returns the line written."""
    if vote not in VOTES:
        raise UserFacingError(f"unknown vote {vote!r}: the allowed votes are {', '.join(VOTES)}")
    folder = Path(run_dir)
    if not (folder / "run.json").is_file():
        raise UserFacingError(f"{folder} is not a run folder (no run.json): run a comparison before voting")
    if not str(record_id or "").strip():
        raise UserFacingError("a vote needs the id of the record it is about")
    line = {"id": str(record_id), "preset": preset, "vote": vote, "voter": voter or "", "time": now_iso()}
    with open(folder / VOTES_FILE, "a", encoding="utf-8") as f:
        f.write(json.dumps(line, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())
    return line


def read_votes(run_dir: str | Path) -> list[dict]:
    """Every complete vote of a run in the order cast; no file means no votes; a torn last line is skipped."""
    path = Path(run_dir) / VOTES_FILE
    if not path.is_file():
        return []
    votes = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            vote = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(vote, dict) and vote.get("vote") in VOTES:
            votes.append(vote)
    return votes


@dataclass
class Agreement:
    n_votes: int  # votes read
    n_usable: int  # records with both a judge verdict and a (latest) vote: the pairs compared
    agreement: float | None  # share of usable records where judge and person agree
    kappa: float | None  # Cohen's kappa over the same pairs; None when undefined (no pairs, or both constant)

    def to_dict(self) -> dict:
        return asdict(self)


def judge_agreement(records: list[dict], votes: list[dict]) -> Agreement:
    """How often the judge's winner matches the human vote, and Cohen's kappa, over records that have both.

    A record is keyed by (id, preset), since a run with several presets has one record per prompt and preset.
    When one record has several votes (a person changed their mind, or several voters) the latest counts.
    Votes for records not in the run and records with no judge verdict (unparsed) are not usable.
    """
    latest = {}
    for vote in votes:
        latest[(vote.get("id"), vote.get("preset"))] = VOTE_AS_VERDICT.get(vote.get("vote"))
    judge_labels, human_labels = [], []
    for record in records:
        human = latest.get((record.get("id"), record.get("preset")))
        if human is None or record.get("winner") is None:
            continue
        judge_labels.append(record["winner"])
        human_labels.append(human)
    return Agreement(n_votes=len(votes), n_usable=len(judge_labels),
                     agreement=agreement_rate(judge_labels, human_labels),
                     kappa=cohen_kappa(judge_labels, human_labels))
