"""Recipe: the shipped toxicity judge (`--judge toxicity`), a label head on the embedded model, rerunnable by anyone.

Data: ../shared/data/davidson_toxicity.jsonl (Davidson et al. 2017, "Automated Hate Speech Detection and the Problem
of Offensive Language": 24,783 tweets, each labelled hate / offensive / neither by three or more CrowdFlower workers;
MIT licence). Hate and offensive are `toxic`, neither is `non_toxic`. Split by a checksum of each tweet's id: 1/5 is
the test part, never trained on. The head (models/reward_head.py LabelHead, fit by finetune/head_training.py) reads
the embedded model's last hidden layer for the tweet under the toxicity instruction; its regularisation is picked by
5-fold cross-validation on the training sample only.

Measured with the validation harness (lab/validation.py, as `python -m judge validate --mode label` does) on a fixed
sample of the test part: the untrained embedded model with the toxicity template (the baseline) and the trained head
on the same rows, then the head on the whole sample. Writes adapters/shipped/toxicity/ (head.npz, meta.json with the
data card and the measured table, DATA_CARD.md).

Usage: python recipes/toxicity_judge.py [--train 2500] [--test 1000] [--baseline-rows 200]
"""
from __future__ import annotations

import argparse
import json
import time

from _common import ROOT, SHARED_DATA, sample, validate

from lab.distill import is_held_out

NAME = "toxicity"
PROMPT = ("Is this comment toxic? A comment is toxic when it insults, demeans, threatens or harasses a person or a "
          "group, or uses slurs or obscene abuse.")


def load_tweets(path) -> list[dict]:
    rows = [json.loads(line) for line in open(path, encoding="utf-8")]
    return [{"id": r["id"], "text": r["text"], "class": "toxic" if r["toxic"] else "non_toxic", "cls": r["cls"]}
            for r in rows]


def pick_strength(features, classes, labels) -> float:
    """The L2 strength with the best mean toxic-class F1 over 5 folds of the training sample."""
    import numpy as np
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedKFold

    from finetune.head_training import fit_label_head

    classes, best = np.array(classes), (None, -1.0)
    for strength in (0.02, 0.1, 0.5, 2.0):
        scores = []
        for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(features, classes):
            head = fit_label_head(features[train], list(classes[train]), labels, PROMPT, strength)
            predicted = np.array(labels)[head.probabilities(features[test]).argmax(1)]
            scores.append(f1_score(classes[test], predicted, pos_label="toxic"))
        print(f"  strength {strength}: toxic F1 {np.mean(scores):.3f} (5-fold)", flush=True)
        if np.mean(scores) > best[1]:
            best = (strength, float(np.mean(scores)))
    return best[0]


def data_card(counts: dict, strength: float, measured: dict, seconds: dict) -> str:
    same, whole = measured["same_rows"], measured["test_sample"]

    def line(name, m):
        toxic = m["per_class"].get("toxic", {})
        return (f"| {name} | {m['n']} | {toxic.get('precision', 0):.3f} | {toxic.get('recall', 0):.3f} | "
                f"{toxic.get('f1', 0):.3f} | {m['f1_macro'] or 0:.3f} | {m['accuracy']:.3f} |")

    matrix = whole["toxicity"]["confusion_matrix"]
    rows = "\n".join(f"| gold {g} | " + " | ".join(str(x) for x in r) + " |"
                     for g, r in zip(matrix["labels"], matrix["matrix"]))
    return f"""# Data card: the `toxicity` judge

A label head (logistic regression, L2 strength {strength}) on SmolLM2-135M-Instruct's last hidden layer (mean over the
text's tokens and its last token), reading each text under the instruction: "{PROMPT}"

- **Source**: Davidson et al. 2017, "Automated Hate Speech Detection and the Problem of Offensive Language" (ICWSM),
  24,783 English tweets, each labelled hate / offensive / neither by three or more CrowdFlower workers. MIT licence.
- **Labels**: hate or offensive -> `toxic`; neither -> `non_toxic`. Most tweets in this set are offensive (about 77%),
  so `toxic` is the majority class; the set's tweets are full of slurs and profanity, and it says little about
  politely worded hostility.
- **Split**: by a checksum of each tweet's id (lab/distill.py is_held_out, 1/5 held out). Trained on
  {counts['train']} tweets sampled from the training part ({counts['train_toxic']} toxic); measured on
  {counts['test']} tweets sampled from the test part ({counts['test_toxic']} toxic). Nothing from the test part was
  trained on or used to pick settings (the L2 strength was picked by 5-fold cross-validation on the training sample).
- **Recipe**: `python recipes/toxicity_judge.py --train {counts['train']} --test {counts['test']}
  --baseline-rows {same['toxicity']['n']}` (features {seconds['features']:.0f} s, fit and cross-validation
  {seconds['fit']:.0f} s on a 2-core CPU).

## Measured (validation harness, `--mode label`, toxic as the positive class)

| judge | rows | precision | recall | F1 | macro F1 | accuracy |
|---|---|---|---|---|---|---|
{line("embedded model + toxicity template (baseline)", same["smollm2-135m-gguf"])}
{line("`toxicity` head, same rows", same["toxicity"])}
{line("`toxicity` head, whole test sample", whole["toxicity"])}

Confusion matrix of the head on the whole test sample (columns: predicted {", ".join(matrix["labels"])}):

| | {" | ".join(matrix["labels"])} |
|---|---|---|
{rows}
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(SHARED_DATA / "davidson_toxicity.jsonl"))
    parser.add_argument("--train", type=int, default=2500, help="tweets sampled from the training part")
    parser.add_argument("--test", type=int, default=1000, help="tweets sampled from the test part")
    parser.add_argument("--baseline-rows", type=int, default=200, help="test rows the untrained baseline judges")
    parser.add_argument("--out", default=str(ROOT / "adapters" / "shipped" / NAME))
    args = parser.parse_args()

    import numpy as np

    from basics import results_dir, write_jsonl_rows
    from finetune.head_training import fit_label_head
    from models import load_model
    from models.reward_head import FeatureCache

    tweets = load_tweets(args.data)
    train = sample([t for t in tweets if not is_held_out(t["id"], 0.2)], args.train, seed=0)
    test = sample([t for t in tweets if is_held_out(t["id"], 0.2)], args.test, seed=1)
    work = results_dir() / "recipes" / NAME
    test_file = write_jsonl_rows(work / "test.jsonl", [{k: t[k] for k in ("id", "text", "class")} for t in test])
    print(f"{len(train)} training tweets, {len(test)} test tweets ({test_file})", flush=True)

    backend = load_model("smollm2-135m")
    cache = FeatureCache(results_dir() / ".cache" / "features", backend.spec.text, signals=False)
    started = time.perf_counter()
    texts = [t["text"] for t in train]
    features = np.concatenate([cache.features(backend, PROMPT, texts[i:i + 32]) for i in range(0, len(texts), 32)])
    seconds = {"features": time.perf_counter() - started}
    started = time.perf_counter()
    labels = ("toxic", "non_toxic")
    classes = [t["class"] for t in train]
    strength = pick_strength(features, classes, labels)
    head = fit_label_head(features, classes, labels, PROMPT, strength)
    seconds["fit"] = time.perf_counter() - started
    counts = {"train": len(train), "train_toxic": classes.count("toxic"), "test": len(test),
              "test_toxic": sum(t["class"] == "toxic" for t in test)}
    head.meta = {"base": "smollm2-135m", "signals": False, "name": NAME, "strength": strength, "counts": counts,
                 "source": "davidson_toxicity.jsonl (Davidson et al. 2017, MIT)", "recipe": "recipes/toxicity_judge.py"}
    head.save(args.out)  # saved before measuring: the harness loads it by its name, as users will

    print("measuring on the same rows: the untrained baseline and the head", flush=True)
    same = validate(test_file, ["smollm2-135m-gguf", NAME], "label", work / "validation", limit=args.baseline_rows,
                    template="toxicity")
    print("measuring the head on the whole test sample", flush=True)
    whole = validate(test_file, [NAME], "label", work / "validation", template="toxicity")
    measured = {"same_rows": same, "test_sample": whole}
    head.meta["measured"] = {part: {judge: {k: m[k] for k in ("n", "accuracy", "per_class", "f1_macro",
                                                              "confusion_matrix", "seconds_per_item")}
                                    for judge, m in found.items()} for part, found in measured.items()}
    head.save(args.out)
    card = data_card(counts, strength, measured, seconds)
    (ROOT / args.out / "DATA_CARD.md").write_text(card, encoding="utf-8")
    print(card)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
