"""How far the default judge's head can follow people before it stops catching broken answers: a wider grid of
recipes than recipes/default_judge.py tries (more weight on PandaLM's human pairs, less pull toward "no preference",
freer hidden-layer columns), each fit on three quarters of the training prompts and measured on the dev quarter
(human pairs and degraded pairs, with "the longer answer wins" on the same rows), then the recipe with the best dev
human agreement among those that keep >= --min-degraded on dev degraded pairs fit on all training prompts and
measured once on the held-out split. A measurement, never a pass/fail.

Data as recipes/default_judge.py (PandaLM human pairs, Apache-2.0, split by prompt; the project's degradations).
Features come from the recipe's cache (results/.cache/features): run the recipe first, or this reads them.

Usage: python benchmarks/judge_human_frontier.py [--features 3] [--min-degraded 0.95] [--out results/benchmarks/...]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "recipes"))

from default_judge import features_of, pandalm_parts  # noqa: E402

from basics import results_dir  # noqa: E402
from finetune.head_training import HeadRecipe, fit_criterion_heads  # noqa: E402
from lab.distill import agreement, head_verdicts, is_held_out  # noqa: E402

GRID = [HeadRecipe(strength=50.0, hidden_strength=hidden, tie_strength=tie, human_weight=weight)
        for hidden in (5e-7, 5e-4, 5e-3) for tie in (0.0, 0.2) for weight in (0.3, 1.0, 3.0, 10.0)]


def dev_split(rows: list[dict], features) -> tuple[tuple, tuple]:
    """(fit rows and features, dev rows and features): the dev quarter is the recipe's (recipes/default_judge.py)."""
    dev = np.array([is_held_out(r["prompt"] + "#dev", 0.25) for r in rows], dtype=bool)
    kept = np.array(rows, dtype=object)
    a, b = features
    return (list(kept[~dev]), (a[~dev], b[~dev])), (list(kept[dev]), (a[dev], b[dev]))


def measured(head, rows, features) -> dict:
    found = agreement(rows, head_verdicts(head, features))
    return {k: found[k] for k in ("n", "agreement", "agreement_ci", "longer_wins_same_rows",
                                  "length_balanced_agreement", "length_balanced_n")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--features", type=int, choices=(2, 3), default=3)
    parser.add_argument("--min-degraded", type=float, default=0.95, help="dev degraded agreement a recipe must keep")
    parser.add_argument("--out", default=str(results_dir() / "benchmarks" / "judge_human_frontier.json"))
    args = parser.parse_args()

    parts = pandalm_parts()
    started = time.perf_counter()
    features = features_of(parts, args.features)
    print(f"features read in {time.perf_counter() - started:.0f} s", flush=True)
    (fit_h, dev_h), (fit_d, dev_d) = (dev_split(parts[k], features[k]) for k in ("train", "train_degraded"))
    tried = []
    for recipe in GRID:
        head = fit_criterion_heads([fit_h, fit_d], recipe)
        human, degraded = measured(head, *dev_h), measured(head, *dev_d)
        tried.append({"recipe": asdict(recipe), "dev_human": human, "dev_degraded": degraded})
        print(f"{recipe}: dev human {human['agreement']:.3f} (longer wins {human['longer_wins_same_rows']:.3f}), "
              f"dev degraded {degraded['agreement']:.3f}", flush=True)
    keeping = [t for t in tried if t["dev_degraded"]["agreement"] >= args.min_degraded]
    report = {"features": args.features, "min_degraded": args.min_degraded, "tried": tried}
    if keeping:
        best = max(keeping, key=lambda t: t["dev_human"]["agreement"])
        recipe = HeadRecipe(**best["recipe"])
        head = fit_criterion_heads([(parts["train"], features["train"]),
                                    (parts["train_degraded"], features["train_degraded"])], recipe)
        report["chosen"] = {"recipe": best["recipe"], "held_out_human": measured(head, parts["test"], features["test"]),
                            "held_out_degraded": measured(head, parts["test_degraded"], features["test_degraded"])}
        chosen = report["chosen"]
        print(f"chosen {recipe}: held-out human {chosen['held_out_human']['agreement']:.3f} "
              f"{chosen['held_out_human']['agreement_ci']} against longer wins "
              f"{chosen['held_out_human']['longer_wins_same_rows']:.3f}; held-out degraded "
              f"{chosen['held_out_degraded']['agreement']:.3f} {chosen['held_out_degraded']['agreement_ci']}")
    else:
        print(f"no recipe kept {args.min_degraded} on dev degraded pairs")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
