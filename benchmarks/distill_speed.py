"""How long distilling a judge takes on this CPU, stage by stage, from nothing cached: `python -m judge distill`'s
workflow (lab/distill.py) on a few hundred labelled pairs, with a judge as the teacher for a slice of them.

Reports items per second for labelling (the teacher judging pairs, both orders), reading answers (the student's
features), training (the heads' fit) and validating (student and untrained baseline on the held-out pairs), and the
wall time of the whole run. The feature cache and the judge cache point at a fresh temporary results folder, so
nothing measured was computed before.

Data: the first N of PandaLM's human pairs (../shared/data/pandalm_human_pairs.jsonl, Apache-2.0; not in the repo).

Usage: python benchmarks/distill_speed.py [--pairs 200] [--teacher-pairs 10]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["LLM_JUDGE_RESULTS"] = tempfile.mkdtemp(prefix="distill-speed-")  # nothing cached: every item computed

from basics import write_jsonl_rows  # noqa: E402
from lab.distill import DistillConfig, run_distill, teacher_rows  # noqa: E402
from lab.validation import load_labelled  # noqa: E402


def timed_distill(config: DistillConfig) -> tuple[dict, float]:
    started = time.perf_counter()
    report = [u for u in run_distill(config)][-1].report
    return report, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "pandalm_human_pairs.jsonl"))
    parser.add_argument("--pairs", type=int, default=200, help="labelled pairs distilled (gold teacher)")
    parser.add_argument("--teacher-pairs", type=int, default=10, help="pairs labelled by a judge teacher")
    args = parser.parse_args()
    rows = [json.loads(line) for line in open(args.data, encoding="utf-8")][: args.pairs]
    for row in rows:
        row["answer_a"], row["answer_b"] = str(row["answer_a"]), str(row["answer_b"])
    work = Path(os.environ["LLM_JUDGE_RESULTS"])
    data = write_jsonl_rows(work / "pairs.jsonl", rows)
    gold, gold_seconds = timed_distill(DistillConfig(data=str(data), name="gold", out_dir=str(work / "judges")))
    started = time.perf_counter()
    labelled = teacher_rows(load_labelled(str(data)).items[: args.teacher_pairs], "smollm2-135m-gguf")
    taught_seconds = time.perf_counter() - started
    result = {"pairs": len(rows), "counts": gold["counts"], "wall_seconds": round(gold_seconds, 1),
              "items_per_second": gold["items_per_second"],
              "teacher_labelling": {"teacher": "smollm2-135m-gguf (both orders, probabilities)",
                                    "pairs": len(labelled),
                                    "pairs_per_second": round(len(labelled) / taught_seconds, 2),
                                    "wall_seconds": round(taught_seconds, 1)},
              "student": gold["student"]["agreement"], "baseline": gold["baseline"]["agreement"]}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
