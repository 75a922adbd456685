"""Whether the default judge could read an answer in one pass: its head refit without the mutual-information signal.

The default judge (recipes/default_judge.py, features version 3) reads each answer twice: after the prompt (the
hidden layer and every token's log probability) and, over the answer's first PMI_TOKENS tokens, with no prompt, for
the pointwise mutual information between prompt and answer (how much likelier the answer is for being asked), its
relevance signal. The second pass is ~20% of a reading (benchmarks/judge_reading.py); without it a reading would be
the 4x of issue 20. One pass reads exactly version 3's features with the two mutual-information columns at 0, so this
refits the head the recipe's way (its grid, chosen on its dev quarter of the training prompts) on the float32
features with and without those columns, and measures both on the held-out pairs: agreement with its interval, the
longer-answer baseline beside it, and per degradation kind. The features come from the recipe's cache
(results/.cache/features), computed on first use (~12 min on a 2-core CPU). Not a pass/fail test.

Data: ../shared/data/pandalm_human_pairs.jsonl (not in the repo), split by prompt as the recipe splits it.

Usage: python benchmarks/judge_one_pass.py [--out results/benchmarks/judge_one_pass.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "recipes")]

import numpy as np  # noqa: E402

from models.reward_head import SIGNALS  # noqa: E402


def without_pmi(features: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """A part's (A, B) features as one pass reads them: the mutual-information columns 0. A row ends with SIGNALS,
    after the hidden layer's columns."""
    a, b = features[0].copy(), features[1].copy()
    columns = [a.shape[1] - len(SIGNALS) + SIGNALS.index(name) for name in ("mean_pmi", "total_pmi")]
    a[:, columns] = 0.0
    b[:, columns] = 0.0
    return a, b


def measured(parts: dict, features: dict) -> dict:
    import default_judge as recipe

    from finetune.head_training import fit_criterion_heads
    from lab.distill import agreement, head_verdicts

    chosen, _ = recipe.select_recipe(parts, features)
    head = fit_criterion_heads([(parts["train"], features["train"]),
                                (parts["train_degraded"], features["train_degraded"])], chosen)
    found = {"recipe": str(chosen)}
    for part in ("test", "test_degraded"):
        found[part] = agreement(parts[part], head_verdicts(head, features[part]))
    kinds: dict[str, list[bool]] = {}
    for row, verdict in zip(parts["test_degraded"], head_verdicts(head, features["test_degraded"])):
        kinds.setdefault(row["kind"], []).append(verdict == row["label"])
    found["degraded_by_kind"] = {kind: {"n": len(hits), "agreement": round(float(np.mean(hits)), 3)}
                                 for kind, hits in kinds.items()}
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "benchmarks" / "judge_one_pass.json")
    args = parser.parse_args(argv)
    import default_judge as recipe

    started = time.perf_counter()
    parts = recipe.pandalm_parts()
    features = recipe.features_of(parts, version=3)
    print(f"features read in {time.perf_counter() - started:.0f} s", flush=True)
    report = {"two passes (version 3)": measured(parts, features),
              "one pass (no mutual information)": measured(parts, {k: without_pmi(v) for k, v in features.items()})}
    def interval(part: dict) -> str:
        low, high = part["agreement_ci"]
        return f"{part['agreement']:.3f} [{low:.3f}-{high:.3f}]"

    for way, found in report.items():
        print(f"{way}: human {interval(found['test'])} (longer answer {found['test']['longer_wins_same_rows']:.3f}), "
              f"degraded {interval(found['test_degraded'])}; by kind "
              + ", ".join(f"{k} {v['agreement']:.3f}" for k, v in found["degraded_by_kind"].items()), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
