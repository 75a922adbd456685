"""Can a linear reward head on the embedded model's frozen features judge? Measured on real human pairs and on clear
good-vs-degraded pairs, split by prompt, against the "longer answer wins" baseline.

Data: PandaLM's human-labelled pairs (../shared/data/pandalm_human_pairs.jsonl, Apache-2.0; not in the repo), split
by prompt into train (4/5) and held-out (1/5) as `python -m judge distill` splits them; degraded pairs
(finetune/degradations.py) made from the train part's preferred answers for training, and from the held-out part's
and prompts/general.jsonl's references for measuring (prompts the head never saw). Heads (models/reward_head.py, fit
by finetune/head_training.py): relevance, coherence, completeness, each fit on the human pairs plus the degradations
that hurt it; a verdict is the higher total.

Reports held-out agreement with people (ties count 1/2) with a bootstrap interval, the longer-answer baseline on the
same rows, agreement on the held-out degraded pairs per kind, whether each kind's criterion head prefers the good
answer, a learning curve, and items per second for features and fitting. Features are cached on disk.

Usage: python benchmarks/judge_head.py [--train-good 300] [--data ../shared/data/pandalm_human_pairs.jsonl]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from basics import results_dir  # noqa: E402
from finetune.degradations import CRITERION_OF, degraded_pairs  # noqa: E402
from finetune.head_training import CRITERIA, fit_criterion_heads  # noqa: E402
from lab.distill import agreement, is_held_out, pair_features  # noqa: E402
from lab.distill import head_verdicts as verdicts  # noqa: E402
from models import load_model  # noqa: E402
from models.reward_head import FeatureCache, RewardHead  # noqa: E402

BASE = "smollm2-135m"


def winner(row: dict) -> str:
    return row["answer_a"] if row["label"] == "A" else row["answer_b"]


def fit_heads(human, human_feats, degraded, degraded_feats) -> RewardHead:
    """A head per criterion: human pairs plus the degraded pairs whose degradation hurts that criterion."""
    return fit_criterion_heads([(human, human_feats), (degraded, degraded_feats)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "pandalm_human_pairs.jsonl"))
    parser.add_argument("--train-good", type=int, default=300, help="preferred train answers to degrade")
    parser.add_argument("--out", default=str(ROOT / "results" / "judge_head"))
    parser.add_argument("--rows", type=int, default=0, help="only the first N human pairs (a quick check)")
    args = parser.parse_args()
    rows = [json.loads(line) for line in open(args.data, encoding="utf-8")][: args.rows or None]
    for row in rows:  # a few PandaLM answers are the JSON literal true: the text an annotator saw was "True"
        row["answer_a"], row["answer_b"] = str(row["answer_a"]), str(row["answer_b"])
    train = [r for r in rows if not is_held_out(r["prompt"], 0.2)]  # the split `python -m judge distill` makes
    test = [r for r in rows if is_held_out(r["prompt"], 0.2)]
    general = [json.loads(line) for line in open(ROOT / "prompts" / "general.jsonl", encoding="utf-8")]
    references = [(g["id"], g["prompt"], g["reference"]) for g in general
                  if len(g.get("reference", "").split()) > 12][: args.rows or None]
    decisive = [r for r in train if r["label"] in ("A", "B")][: args.train_good]
    train_degraded = [p.to_dict() for p in degraded_pairs([(r["id"], r["prompt"], winner(r)) for r in decisive])]
    test_good = [(r["id"], r["prompt"], winner(r)) for r in test if r["label"] in ("A", "B")]
    test_degraded = [p.to_dict() for p in degraded_pairs(test_good + references, seed=1)]
    print(f"human pairs: {len(train)} train / {len(test)} held-out; degraded: {len(train_degraded)} train / "
          f"{len(test_degraded)} held-out", flush=True)

    backend = load_model(BASE)
    cache = FeatureCache(results_dir() / ".cache" / "features", backend.spec.text)  # the one distill uses
    started = time.perf_counter()
    feats = {name: pair_features(cache, backend, part) for name, part in
             (("train", train), ("test", test), ("train_degraded", train_degraded), ("test_degraded", test_degraded))}
    n_answers = 2 * sum(len(p) for p in (train, test, train_degraded, test_degraded))
    feature_seconds = time.perf_counter() - started
    started = time.perf_counter()
    head = fit_heads(train, feats["train"], train_degraded, feats["train_degraded"])
    fit_seconds = time.perf_counter() - started

    report = {"human_held_out": agreement(test, verdicts(head, feats["test"])),
              "degraded_held_out": agreement(test_degraded, verdicts(head, feats["test_degraded"])),
              "by_kind": {}, "criterion_follows_degradation": {}, "learning_curve": [],
              "items_per_second": {"features": round(n_answers / feature_seconds, 2),
                                   "fit_pairs": round((len(train) + len(train_degraded)) / fit_seconds, 1)}}
    predicted = verdicts(head, feats["test_degraded"])
    for kind in CRITERION_OF:
        chosen = [i for i, r in enumerate(test_degraded) if r["kind"] == kind]
        report["by_kind"][kind] = round(np.mean([predicted[i] == test_degraded[i]["label"] for i in chosen]), 3)
        if CRITERION_OF[kind] in CRITERIA:
            scores = [head.scores(f)[CRITERION_OF[kind]] for f in feats["test_degraded"]]
            follows = [(scores[0][i] > scores[1][i]) == (test_degraded[i]["label"] == "A") for i in chosen]
            report["criterion_follows_degradation"][kind] = round(float(np.mean(follows)), 3)
    for share in (0.1, 0.25, 0.5, 1.0):
        limit = max(10, int(len(train) * share))
        curve_head = fit_heads(train[:limit], feats["train"], train_degraded[: int(len(train_degraded) * share)],
                               feats["train_degraded"])
        report["learning_curve"].append({"human_pairs": limit, "degraded_pairs": int(len(train_degraded) * share),
                                         "human_held_out": agreement(test, verdicts(curve_head, feats["test"]))[
                                             "agreement"]})
    print(json.dumps(report, indent=2, default=float))
    head.meta = {"base": BASE, "features": "last hidden layer: mean over the answer tokens + last token",
                 "trained_on": {"pandalm_human_pairs (Apache-2.0)": len(train),
                                "degraded pairs of its preferred answers": len(train_degraded)},
                 "measured": report}
    print("head saved to", head.save(Path(args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
