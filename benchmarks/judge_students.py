"""Which student to keep: the generative one (a LoRA writing the pairwise template's reply, lab/judge_sft.py) or the
scoring one (a reward head, models/reward_head.py), against today's default judge, on the same held-out rows.

Data as in benchmarks/judge_head.py and recipes/default_judge.py: PandaLM's human pairs (../shared/data, Apache-2.0)
split by prompt (1/5 held out), degraded pairs of the train part's preferred answers for training, and degraded
pairs of the held-out answers and prompts/general.jsonl's references for measuring. Each student trains on the same
human and degraded pairs (the LoRA on a sample: it costs seconds per sequence on a CPU). All three judges are measured
with the validation harness (pairwise, both orders) on the same fixed samples of held-out pairs; the LoRA judges on
llama.cpp through its exported GGUF LoRA.

Usage: python benchmarks/judge_students.py [--lora-pairs 120] [--steps 30] [--measure 100]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "recipes"))

from _common import sample, validate  # noqa: E402
from default_judge import longer_wins, pandalm_parts, train_head  # noqa: E402

from basics import results_dir, write_jsonl_rows  # noqa: E402
from finetune.head_training import HeadRecipe  # noqa: E402
from judge.templates import default_template  # noqa: E402
from lab.judge_sft import train_generative_student  # noqa: E402

# the recipe recipes/default_judge.py chose on its dev split (adapters/shipped/smollm2-135m-judge/meta.json)
SHIPPED = HeadRecipe(strength=50.0, hidden_strength=5e-7, tie_strength=0.2, human_weight=0.3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lora-pairs", type=int, default=120, help="training pairs for the LoRA (each both orders)")
    parser.add_argument("--steps", type=int, default=30, help="LoRA optimizer steps (8 sequences each)")
    parser.add_argument("--measure", type=int, default=100, help="held-out pairs of each kind measured")
    args = parser.parse_args()
    work = results_dir() / "benchmarks" / "judge_students"
    parts = pandalm_parts()
    report = {"counts": {k: len(v) for k, v in parts.items()}}

    lora_rows = sample([r for r in parts["train"] if r["label"] in ("A", "B")], args.lora_pairs // 2, seed=0) + \
        sample(parts["train_degraded"], args.lora_pairs - args.lora_pairs // 2, seed=0)
    started = time.perf_counter()
    head_folder, _ = train_head(parts, work / "head", SHIPPED)
    report["head_train_seconds"] = round(time.perf_counter() - started, 1)
    same_parts = {"train": [r for r in lora_rows if "kind" not in r],
                  "train_degraded": [r for r in lora_rows if "kind" in r]}
    same_folder, _ = train_head(same_parts, work / "head_same_pairs", SHIPPED)
    started = time.perf_counter()
    checkpoint = train_generative_student(lora_rows, default_template("pairwise"), work / "lora", args.steps)
    report["lora"] = {"pairs": len(lora_rows), "sequences": 2 * len(lora_rows), "steps": args.steps,
                      "train_seconds": round(time.perf_counter() - started, 1)}
    judges = {"baseline": "smollm2-135m-gguf", "head": f"head:{head_folder}",
              "head on the LoRA's pairs": f"head:{same_folder}",
              "lora": f"smollm2-135m-gguf+{checkpoint / 'adapter.gguf'}"}
    for part in ("test", "test_degraded"):
        rows = sample(parts[part], args.measure, seed=2)
        data = write_jsonl_rows(work / f"{part}.jsonl", [{k: r[k] for k in ("id", "prompt", "answer_a", "answer_b",
                                                                                 "label")} for r in rows])
        print(f"measuring on {len(rows)} {part} pairs", flush=True)
        found = validate(data, list(judges.values()), "pairwise", work / "validation")
        report[part] = {name: {k: found[spec].get(k) for k in ("n", "agreement", "agreement_ci", "position_consistency",
                                                                "first_slot_share", "seconds_per_item")}
                        for name, spec in judges.items()}
        report[part]["longer_wins"] = longer_wins(rows)
    print(json.dumps(report, indent=2))
    (work / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
