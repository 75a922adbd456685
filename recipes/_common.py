"""What the judge-training recipes share: the repository on the import path, deterministic samples, and
measuring judges with the validation harness (lab/validation.py) exactly as `python -m judge validate` does."""
from __future__ import annotations

import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED_DATA = ROOT.parent / "shared" / "data"


def sample(rows: list, n: int, seed: int) -> list:
    """`n` rows (all when n is 0 or more than there are), drawn with a fixed seed, in their original order."""
    if not n or n >= len(rows):
        return list(rows)
    chosen = sorted(random.Random(seed).sample(range(len(rows)), n))
    return [rows[i] for i in chosen]


def validate(data: Path, judges: list[str], mode: str, out: Path, limit: int = 0, template: str | None = None
             ) -> dict[str, dict]:
    """Each judge's metrics on a labelled file, from one validation run (folder under `out`), by judge spec; each
    also carries its verdict rows under "rows"."""
    from basics import read_jsonl
    from lab.validation import ValidationConfig, judge_folder_name, run_validation

    config = ValidationConfig(data=str(data), judges=judges, mode=mode, limit=limit, out_dir=str(out),
                              template=template)
    found = {}
    for update in run_validation(config):
        if update.stage == "judge_done":
            rows = list(read_jsonl(update.folder / judge_folder_name(update.judge, update.method) / "verdicts.jsonl"))
            found[update.judge] = {**update.metrics, "rows": rows}
            print(f"  {update.judge}: done", flush=True)
    return found
