"""How long a checkpoint sweep takes on this CPU, and how much reusing answers and judgements saves (issue 23, item 5).

Four checkpoints of the embedded model against a baseline, round robin (10 pairings), on the first N study prompts at
two presets, judged by the default judge, from nothing cached:
- two LoRA checkpoints trained here (a few steps; their GGUF twins answer on llama.cpp's float32 GGUF),
- the transformers model and the float32 GGUF, against the 4-bit GGUF as the baseline.

Reported: the first sweep's wall time; answers generated against what ten pairings would generate without reuse (each
pairing answering both sides), and the generation seconds that saves, estimated from the measured seconds per answer
of this sweep; then the same sweep again (every answer and judgement cached) with its wall time. Training time is
reported apart and is not part of either sweep.

Usage: python benchmarks/sweep_speed.py [--prompts 10] [--presets p1,p2] [--max-new-tokens 128] [--out FILE]
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
WORK = Path(tempfile.mkdtemp(prefix="sweep-speed-"))
os.environ["LLM_JUDGE_RESULTS"] = str(WORK / "results")  # nothing cached: every answer and judgement computed
os.environ["LLM_JUDGE_ADAPTERS"] = str(WORK / "adapters")

from evals.sweep import SweepConfig, run_sweep  # noqa: E402
from evals.sweep_report import write_summary  # noqa: E402
from finetune.config import DEMO_DATA, load_config  # noqa: E402
from finetune.train import train  # noqa: E402

BASELINE = "smollm2-135m-gguf"


def trained_run(steps: int) -> tuple[Path, float]:
    """A LoRA run with checkpoints at half and all of `steps` (CPU-sized: rank 8, short rows)."""
    out = WORK / "adapters" / "bench-run"
    config = load_config(data=DEMO_DATA, out=str(out), max_steps=steps, save_steps=[steps // 2],
                         per_device_batch_size=2, gradient_accumulation_steps=1, max_seq_length=256, lora_r=8,
                         lora_alpha=16, warmup_steps=0)
    started = time.perf_counter()
    train(config)
    return out, time.perf_counter() - started


def timed_sweep(config: SweepConfig) -> tuple[dict, float, object]:
    started = time.perf_counter()
    result = run_sweep(config)
    summary = write_summary(result)
    return summary, time.perf_counter() - started, result


def answer_seconds(results: Path) -> list[float]:
    """Seconds of every answer in the answer cache (each generated once in the first sweep)."""
    seconds = []
    for entry in (results / ".cache" / "answers").glob("*.json"):
        data = json.loads(entry.read_text(encoding="utf-8"))
        generation = data.get("generation", data)
        if isinstance(generation.get("seconds"), (int, float)):
            seconds.append(generation["seconds"])
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=10)
    parser.add_argument("--presets", default="p1,p2")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--train-steps", type=int, default=4)
    parser.add_argument("--out", help="also write the result as JSON here")
    args = parser.parse_args()
    run, train_seconds = trained_run(args.train_steps)
    presets = args.presets.split(",")
    config = SweepConfig(checkpoints=[str(run), "smollm2-135m", "smollm2-135m-f32-gguf"], baseline=BASELINE,
                         prompts="study", presets=presets, round_robin=True, limit=args.prompts,
                         max_new_tokens=args.max_new_tokens, out_dir=str(WORK / "results"))
    first, first_seconds, result = timed_sweep(config)
    models = len(result.checkpoints) + 1
    per_model = args.prompts * len(presets)
    without_reuse = 2 * per_model * len(result.pairings)
    seconds = answer_seconds(WORK / "results")
    per_answer = sum(seconds) / len(seconds) if seconds else None
    saved = (without_reuse - result.generated) * per_answer if per_answer else None
    second, second_seconds, again = timed_sweep(config)
    report = {
        "checkpoints": [c.label for c in result.checkpoints], "baseline": BASELINE, "models": models,
        "prompts": args.prompts, "presets": presets, "max_new_tokens": args.max_new_tokens,
        "pairings": len(result.pairings), "train_seconds": round(train_seconds, 1),
        "first_sweep": {"wall_seconds": round(first_seconds, 1), "answers_generated": result.generated,
                        "answers_without_reuse": without_reuse,
                        "mean_seconds_per_answer": round(per_answer, 3) if per_answer else None,
                        "generation_seconds_saved_estimate": round(saved, 1) if saved else None,
                        "share_of_wall_saved_estimate": round(saved / (first_seconds + saved), 3) if saved else None,
                        "best": first["best"], "sentence": first["sentence"]},
        "second_sweep": {"wall_seconds": round(second_seconds, 1), "answers_generated": again.generated,
                         "answers_reused": again.reused, "best": second["best"],
                         "share_of_first_wall": round(second_seconds / first_seconds, 3)},
        "cpu_count": os.cpu_count(),
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
