"""Recipe: the shipped default judge (`smollm2-135m-judge`), a reward head on the embedded model, rerunnable by anyone.

Data (licence-clean only):
- ../shared/data/pandalm_human_pairs.jsonl: PandaLM's 999 instruction pairs, each labelled by three annotators
  (WeOpenML/PandaLM, Apache-2.0), split by prompt as `python -m judge distill` splits (1/5 held out);
- pairs the project makes (finetune/degradations.py) by degrading the preferred answers of the training part: off
  topic, shuffled, contradictory, truncated, parts dropped, injected judge text. For measuring, the same degradations
  of the held-out part's preferred answers and of prompts/general.jsonl's references (prompts never trained on).

The head (models/reward_head.py: the embedded model's last hidden layer plus its own reading of the answer, fit by
finetune/head_training.py) has a score per criterion; each is fit on the human pairs plus the degradations that hurt
that criterion. Measured with the validation harness (lab/validation.py, pairwise, both orders): the head on every
held-out pair, and today's default judge (the embedded model on llama.cpp with the pairwise template) on a fixed
sample of them. Writes adapters/shipped/smollm2-135m-judge/ (head.npz, meta.json, DATA_CARD.md).

Usage: python recipes/default_judge.py [--train-good 300] [--baseline-rows 100] [--measure-only] [--keep-baseline]
       [--features 2|3] [--weights float32|int8|bfloat16]
"""
from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path

import numpy as np
from _common import ROOT, SHARED_DATA, sample, validate

from finetune.head_training import HeadRecipe, fit_criterion_heads
from lab.distill import is_held_out
from models.feature_readers import WEIGHTS
from models.reward_head import FEATURES_VERSION

NAME = "smollm2-135m-judge"
BASELINE = "smollm2-135m-gguf"
# The base whose features the head reads. transformers, not the float32 GGUF on llama.cpp (the same features within
# rounding, models/llamacpp_reading.py, and the same held-out agreement: 95% and 67%): benchmarks/judge_reading.py
# measured llama.cpp 0.84x transformers' speed on AlpacaEval-length pairs on a quiet 2-core CPU.
BASE_MODEL = "smollm2-135m"


def winner(row: dict) -> str:
    return row["answer_a"] if row["label"] == "A" else row["answer_b"]


def pandalm_parts(data: Path = SHARED_DATA / "pandalm_human_pairs.jsonl", train_good: int = 300) -> dict[str, list]:
    """Human pairs split by prompt, and degraded pairs: of train answers for training, of held-out ones (and the
    shipped prompt set's references) for measuring."""
    from finetune.degradations import degraded_pairs

    rows = [json.loads(line) for line in open(data, encoding="utf-8")]
    for row in rows:  # a few PandaLM answers are the JSON literal true: the text an annotator saw was "True"
        row["answer_a"], row["answer_b"] = str(row["answer_a"]), str(row["answer_b"])
    train = [r for r in rows if not is_held_out(r["prompt"], 0.2)]
    test = [r for r in rows if is_held_out(r["prompt"], 0.2)]
    general = [json.loads(line) for line in open(ROOT / "prompts" / "general.jsonl", encoding="utf-8")]
    references = [(g["id"], g["prompt"], g["reference"]) for g in general if len(g.get("reference", "").split()) > 12]
    decisive = [r for r in train if r["label"] in ("A", "B")][:train_good]
    test_good = [(r["id"], r["prompt"], winner(r)) for r in test if r["label"] in ("A", "B")]
    return {"train": train, "test": test,
            "train_degraded": [p.to_dict() for p in degraded_pairs([(r["id"], r["prompt"], winner(r))
                                                                    for r in decisive])],
            "test_degraded": [p.to_dict() for p in degraded_pairs(test_good + references, seed=1)]}


def longer_wins(rows: list[dict]) -> float:
    """Agreement of "the longer answer wins" with the labels (ties count 1/2)."""
    def credit(row):
        guess = "A" if len(row["answer_a"]) > len(row["answer_b"]) else "B"
        return 0.5 if row["label"] == "tie" else float(guess == row["label"])
    return round(sum(map(credit, rows)) / len(rows), 4)


GRID = [HeadRecipe(strength=50.0, hidden_strength=hidden, tie_strength=tie, human_weight=weight)
        for hidden in (5e-7, 5e-4) for tie in (0.0, 0.2, 2.0) for weight in (0.1, 0.3, 1.0)]


def features_of(parts: dict, version: int = FEATURES_VERSION, weights: str = "float32") -> dict:
    """Each part's pair features as the head will read them (models/backends/head.py: the same cache key)."""
    from basics import results_dir
    from lab.distill import pair_features
    from models import load_model
    from models.feature_readers import feature_reader
    from models.reward_head import FeatureCache

    backend, key = feature_reader(load_model(BASE_MODEL), weights)
    cache = FeatureCache(results_dir() / ".cache" / "features", key, version=version)
    return {name: pair_features(cache, backend, rows) for name, rows in parts.items()}


def select_recipe(parts: dict, features: dict) -> tuple[HeadRecipe, list[dict]]:
    """The recipe of GRID with the best mean of human and degraded agreement on a dev quarter of the training
    prompts (never the held-out part): heads fit on the other three quarters."""
    from lab.distill import agreement, head_verdicts

    def split(name):
        dev = np.array([is_held_out(r["prompt"] + "#dev", 0.25) for r in parts[name]], dtype=bool)
        rows = np.array(parts[name], dtype=object)
        a, b = features[name]
        return (list(rows[~dev]), (a[~dev], b[~dev])), (list(rows[dev]), (a[dev], b[dev]))

    (fit_h, dev_h), (fit_d, dev_d) = split("train"), split("train_degraded")
    tried = []
    for recipe in GRID:
        head = fit_criterion_heads([fit_h, fit_d], recipe)
        human = agreement(dev_h[0], head_verdicts(head, dev_h[1]))["agreement"]
        degraded = agreement(dev_d[0], head_verdicts(head, dev_d[1]))["agreement"]
        tried.append({**asdict(recipe), "dev_human": round(human, 3), "dev_degraded": round(degraded, 3)})
        print(f"  {recipe}: dev human {human:.3f}, dev degraded {degraded:.3f}", flush=True)
    best = max(range(len(GRID)), key=lambda i: tried[i]["dev_human"] + tried[i]["dev_degraded"])
    return GRID[best], tried


def train_head(parts: dict, folder: Path, recipe: HeadRecipe | None = None, version: int = FEATURES_VERSION,
               weights: str = "float32") -> tuple[Path, list[dict]]:
    """The criterion heads on the whole train part and its degradations, by `recipe` (None: chosen on a dev split),
    read as features `version` by `weights` ("float32" or "int8"), saved in `folder`; with the recipes tried."""
    features = features_of({k: parts[k] for k in ("train", "train_degraded")}, version, weights)
    tried = []
    if recipe is None:
        recipe, tried = select_recipe(parts, features)
    human, degraded = parts["train"], parts["train_degraded"]
    head = fit_criterion_heads([(human, features["train"]), (degraded, features["train_degraded"])], recipe)
    head.meta.update({"base": BASE_MODEL, "signals": True, "features": version, "weights": weights, "name": NAME,
                      "trained_on": {"pandalm_human_pairs (Apache-2.0)": len(human),
                                     "degraded pairs of their preferred answers": len(degraded)},
                      "recipe_script": "recipes/default_judge.py", "recipes_tried_on_dev": tried})
    return head.save(folder), tried


def by_kind(rows: list[dict]) -> dict[str, float]:
    """Agreement per degradation (the kind is the last part of a degraded pair's id)."""
    groups = defaultdict(list)
    for row in rows:
        groups[row["id"].rsplit(":", 1)[-1]].append(row["predicted"] == row["gold"])
    return {kind: round(sum(hits) / len(hits), 3) for kind, hits in sorted(groups.items())}


def summary(metrics: dict) -> dict:
    return {k: metrics.get(k) for k in ("n", "agreement", "agreement_ci", "position_consistency", "first_slot_share",
                                         "unparsed_share", "seconds_per_item")}


def _pct(value) -> str:
    return "—" if value is None else f"{value:.0%}"


def _agreement(m: dict) -> str:
    """'95% [93%–96%]': the agreement with its interval, where there is one."""
    low, high = m.get("agreement_ci") or (None, None)
    return _pct(m["agreement"]) + (f" [{_pct(low)}–{_pct(high)}]" if low is not None else "")


def _row(name: str, m: dict, longer: float | None = None) -> str:
    return (f"| {name} | {m['n']} | {_agreement(m)} | {_pct(m.get('position_consistency'))} | "
            f"{_pct(m.get('first_slot_share'))} | {_pct(longer)} | {m.get('seconds_per_item') or 0:.2f} |")


def data_card(counts: dict, args, measured: dict, train_seconds: float, recipe: HeadRecipe) -> str:
    """DATA_CARD.md: sources, licences, counts, the recipe and the measured table."""
    lines = ["| judge | pairs | agreement [95% CI] | position consistency | first-slot share | longer wins, same rows "
             "| s / pair |", "|---|---|---|---|---|---|---|"]
    for part in ("test_degraded", "test"):
        found = measured[part]
        lines.append(f"| **{found['title']}** | | | | | | |")
        lines.append(_row(f"`{NAME}`, all", found["head"], found["longer_wins"]))
        lines.append(_row(f"`{NAME}`, sample", found["sample"]["head"], found["sample"]["longer_wins"]))
        lines.append(_row(f"`{BASELINE}` (today's default), same sample", found["sample"]["baseline"],
                          found["sample"]["longer_wins"]))
    kinds = measured["test_degraded"]["head_by_kind"]
    base_kinds = measured["test_degraded"]["baseline_by_kind"]
    by_kind = "\n".join(f"| {k} | {_pct(v)} | {_pct(base_kinds.get(k))} |" for k, v in kinds.items())
    return f"""# Data card: the `{NAME}` judge

A scoring judge: per-criterion reward heads (relevance, coherence, completeness; Bradley-Terry logistic regression)
on SmolLM2-135M-Instruct's own reading of an answer (models/reward_head.py: its last hidden layer over the answer;
how likely the answer's tokens are with and without the prompt, how likely the turn ends where the answer stops, its
length, how often a token surprises it; and three text signals: words shared with the prompt, repeated word triples,
grading text). A verdict is the higher total; each answer is scored alone, so the order the answers are shown in
cannot change it. Fit with {recipe} (finetune/head_training.py HeadRecipe), chosen among {len(GRID)} recipes on a
dev quarter of the training prompts.

- **PandaLM human pairs**: ../shared/data/pandalm_human_pairs.jsonl, 999 instruction pairs from PandaLM's
  human-annotated test set (WeOpenML/PandaLM; licence Apache-2.0), each labelled by three annotators. Split by a
  checksum of the prompt (lab/distill.py is_held_out, 1/5 held out): {counts['train']} pairs to train,
  {counts['test']} held out.
- **Degraded pairs** (made by the project, finetune/degradations.py; the project's licence): the preferred answers
  of the first {args.train_good} decisive training pairs, degraded six ways (another prompt's answer; shuffled
  sentences; a sentence contradicted; cut at 40% of its words; every other sentence dropped; judge-format text
  appended): {counts['train_degraded']} pairs to train. For measuring, the same degradations of the held-out
  pairs' preferred answers and of prompts/general.jsonl's references: {counts['test_degraded']} pairs from
  prompts never trained on.
- **Not used**: AlpacaEval or any GPT-4 labels (no weights trained on them ship).
- **Recipe**: `python recipes/default_judge.py --train-good {args.train_good} --baseline-rows {args.baseline_rows}`
  (training, recipe choice included, {train_seconds:.0f} s on a 2-core CPU; features cached in results/.cache/features).

## Measured (validation harness, pairwise, both orders)

{chr(10).join(lines)}

The head's seconds per pair are near 0 here because training had already read (and cached) every answer; a pair it
has never seen costs two passes of the embedded model per answer (see benchmarks/judge_reading.py and the README for
the measured figure).

By degradation (agreement on the held-out degraded pairs; today's default judge on its sample):

| degradation | `{NAME}` | `{BASELINE}` |
|---|---|---|
{by_kind}
"""


def bfloat16_note(meta: dict) -> str:
    """The data card's paragraph on reading bfloat16 features, where the head was measured doing so (meta.json
    `reads_bfloat16`, models/feature_readers.py); a refit head has no such entry until it is measured again."""
    found = meta.get("reads_bfloat16")
    if not found:
        return ""
    rows = "\n".join(f"| {part['title']} | {part['head']['n']} | {_agreement(part['head'])} |"
                     for part in found["measured"].values())
    return f"""
## Reading bfloat16 features

Where the CPU multiplies bfloat16 natively (Intel AMX), the judge reads its features under CPU autocast to bfloat16,
about 1.9x faster than float32 (benchmarks/judge_reading.py); elsewhere, or with `$LLM_JUDGE_HEAD_BFLOAT16=0`, it
reads float32. The same head, measured reading bfloat16 ({found['date']}; `{found['command']}`):

| held-out set | pairs | agreement [95% CI] |
|---|---|---|
{rows}

Verdicts the same as float32's on the held-out human pairs: {found['same_verdicts_on_held_out_human_pairs']}.
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(SHARED_DATA / "pandalm_human_pairs.jsonl"))
    parser.add_argument("--train-good", type=int, default=300, help="preferred train answers to degrade")
    parser.add_argument("--baseline-rows", type=int, default=100, help="held-out pairs of each kind the untrained "
                                                                       "default judge is measured on")
    parser.add_argument("--out", default=str(ROOT / "adapters" / "shipped" / NAME))
    parser.add_argument("--measure-only", action="store_true", help="measure the head already in --out again (its "
                        "base or the engine reading its features changed), without training")
    parser.add_argument("--keep-baseline", action="store_true", help="reuse the baseline judge's figures stored in "
                        "--out's meta.json (the same rows and judge: only the head changed)")
    parser.add_argument("--features", type=int, choices=(2, 3), default=FEATURES_VERSION, help="features version "
                        "to fit on (models/reward_head.py)")
    parser.add_argument("--weights", choices=WEIGHTS, default="float32", help="the base's weights when reading "
                        "features: int8 is torch's dynamic quantisation (models/feature_readers.int8_reader), bfloat16 "
                        "CPU autocast (models/feature_readers.bfloat16_reader)")
    args = parser.parse_args()

    from basics import results_dir, write_jsonl_rows

    parts = pandalm_parts(Path(args.data), args.train_good)
    counts = {k: len(v) for k, v in parts.items()}
    print(counts, flush=True)
    meta_path = Path(args.out) / "meta.json"
    stored = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    started = time.perf_counter()
    if not args.measure_only:
        train_head(parts, Path(args.out), version=args.features, weights=args.weights)
    train_seconds = stored.get("train_seconds", 0.0) if args.measure_only else time.perf_counter() - started
    work = results_dir() / "recipes" / NAME
    shipped = (ROOT / "adapters" / "shipped" / NAME).resolve()
    judge = NAME if Path(args.out).resolve() == shipped else f"head:{Path(args.out).resolve()}"  # the head just made
    measured = {}
    for part, title in (("test_degraded", "degraded pairs from unseen prompts"), ("test", "held-out human pairs")):
        columns = ("id", "prompt", "answer_a", "answer_b", "label")
        data = write_jsonl_rows(work / f"{part}.jsonl", [{k: r[k] for k in columns} for r in parts[part]])
        sampled = write_jsonl_rows(work / f"{part}_sample.jsonl",
                                   [{k: r[k] for k in columns} for r in sample(parts[part], args.baseline_rows, 3)])
        print(f"measuring on {title}", flush=True)
        whole = validate(data, [judge], "pairwise", work / "validation")[judge]
        kept = stored.get("measured", {}).get(part, {}) if args.keep_baseline else {}
        same = validate(sampled, [judge] if kept else [BASELINE, judge], "pairwise", work / "validation")
        measured[part] = {"title": title, "head": summary(whole), "longer_wins": longer_wins(parts[part]),
                          "sample": {"baseline": kept["sample"]["baseline"] if kept else summary(same[BASELINE]),
                                     "head": summary(same[judge]),
                                     "longer_wins": longer_wins(sample(parts[part], args.baseline_rows, 3))}}
        if part == "test_degraded":
            measured[part]["head_by_kind"] = by_kind(whole["rows"])
            measured[part]["baseline_by_kind"] = (kept["baseline_by_kind"] if kept else
                                                  by_kind(same[BASELINE]["rows"]))
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta.update(counts=counts, train_seconds=round(train_seconds, 1), measured=measured)
    meta_path.write_text(json.dumps(meta, indent=2), encoding="utf-8")
    card = data_card(counts, args, measured, train_seconds, HeadRecipe(**meta["recipe"])) + bfloat16_note(meta)
    (Path(args.out) / "DATA_CARD.md").write_text(card, encoding="utf-8")
    print(card)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
