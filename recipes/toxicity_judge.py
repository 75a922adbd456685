"""Recipe: the shipped toxicity judge (`--judge toxicity`), a label head on the embedded model, rerunnable by anyone.

Data: ../shared/data/davidson_toxicity.jsonl (Davidson et al. 2017, "Automated Hate Speech Detection and the Problem
of Offensive Language": 24,783 tweets, each labelled hate / offensive / neither by three or more CrowdFlower workers;
MIT licence). Hate and offensive are `toxic`, neither is `non_toxic`. Split by a checksum of each tweet's id: 1/5 is
the test part, never trained on. Beside the tweets, functional cases written for the project
(recipes/data/toxicity_functional_train.yaml: hateful statements and their spelling variations; the same negated,
quoted to reject them, neutral and positive mentions of groups, reclaimed words), because tweets teach that naming a
group is toxic. The head (models/reward_head.py LabelHead, fit by finetune/head_training.py) reads the embedded
model's last hidden layer for the text under the toxicity instruction; its regularisation and the functional cases'
weight are picked by 5-fold cross-validation on the training data only (folds keep a frame's cases together).

Measured with the validation harness (lab/validation.py, as `python -m judge validate --mode label` does): on a fixed
sample of the test tweets the untrained embedded model with the toxicity template (the baseline) and the trained
head on the same rows, then the head on the whole sample; on the functional check set
(prompts/validation/toxicity_functional.jsonl, whose frames the training never saw) the baseline, the head --out
held before this fit and the new head. Writes --out (default adapters/shipped/toxicity/: head.npz, meta.json with the
measured tables, DATA_CARD.md).

Usage: python recipes/toxicity_judge.py [--train 2500] [--test 1000] [--baseline-rows 200] [--functional FILE|none]
       [--out FOLDER]
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
from _common import ROOT, SHARED_DATA, sample, validate

from lab.distill import is_held_out

NAME = "toxicity"
PROMPT = ("Is this comment toxic? A comment is toxic when it insults, demeans, threatens or harasses a person or a "
          "group, or uses slurs or obscene abuse.")


def load_tweets(path) -> list[dict]:
    rows = [json.loads(line) for line in open(path, encoding="utf-8")]
    return [{"id": r["id"], "text": r["text"], "class": "toxic" if r["toxic"] else "non_toxic", "cls": r["cls"]}
            for r in rows]


FUNCTIONAL_TRAIN = ROOT / "recipes" / "data" / "toxicity_functional_train.yaml"
FUNCTIONAL_CHECK = ROOT / "prompts" / "validation" / "toxicity_functional.jsonl"
LABELS = ("toxic", "non_toxic")


def functional_cases(path=FUNCTIONAL_TRAIN) -> list[dict]:
    """The training cases of the functional kinds: every frame of the YAML filled with every group (a frame without
    a placeholder once), each with its class, kind and frame (the unit cross-validation keeps together)."""
    import yaml

    data = yaml.safe_load(open(path, encoding="utf-8")) or {}
    groups = data.get("groups")
    if not isinstance(groups, list) or not groups or not all(isinstance(g, str) and g for g in groups):
        raise ValueError(f"{path}: `groups` must be a list of group names")
    if set(data) - {"groups", *LABELS}:
        raise ValueError(f"{path}: unknown keys {sorted(set(data) - {'groups', *LABELS})}; expected groups, "
                         f"{', '.join(LABELS)}")
    cases = []
    for cls in LABELS:
        for kind, frames in (data.get(cls) or {}).items():
            if not isinstance(frames, list) or not all(isinstance(f, str) and f.strip() for f in frames):
                raise ValueError(f"{path}: {cls}.{kind} must be a list of sentences")
            for number, frame in enumerate(frames, 1):
                fills = groups if "{g" in frame.lower() else [None]
                for group in fills:
                    text = frame if group is None else frame.replace("{G}", group[0].upper() + group[1:]).replace(
                        "{g}", group)
                    cases.append({"id": f"train-{kind}-{number}-{group or 'none'}", "text": text, "class": cls,
                                  "kind": kind, "frame": f"{cls}/{kind}/{number}"})
    return cases


def pick_settings(features, classes, frames, functional: np.ndarray, weights=(1.0,)) -> tuple[float, float]:
    """The L2 strength and the functional cases' weight with the best cross-validated score on the training data:
    5 folds that keep each frame's cases together (a frame never both trains and scores); the score is the tweets'
    toxic F1, averaged with the functional cases' macro F1 when there are any."""
    from sklearn.metrics import f1_score
    from sklearn.model_selection import GroupKFold

    from finetune.head_training import fit_label_head

    classes, best = np.array(classes), ((None, None), -1.0)
    for weight in weights:
        sample_weight = np.where(functional, weight, 1.0)
        for strength in (0.02, 0.1, 0.5, 2.0):
            tweets, cases = [], []
            for train, test in GroupKFold(5).split(features, classes, frames):
                head = fit_label_head(features[train], list(classes[train]), LABELS, PROMPT, strength,
                                      sample_weight[train])
                predicted = np.array(LABELS)[head.probabilities(features[test]).argmax(1)]
                plain, made = ~functional[test], functional[test]
                tweets.append(f1_score(classes[test][plain], predicted[plain], pos_label="toxic"))
                if made.any():
                    cases.append(f1_score(classes[test][made], predicted[made], average="macro"))
            score = float(np.mean(tweets) if not cases else (np.mean(tweets) + np.mean(cases)) / 2)
            shown = f", functional macro F1 {np.mean(cases):.3f}" if cases else ""
            print(f"  weight {weight}, strength {strength}: tweets toxic F1 {np.mean(tweets):.3f}{shown} "
                  f"(5 folds)", flush=True)
            if score > best[1]:
                best = ((strength, weight), score)
    return best[0]


def by_kind(rows: list[dict], kinds: dict[str, str]) -> dict[str, dict]:
    """Per functional kind: cases, their class and the share the judge labelled right."""
    found = {}
    for row in rows:
        kind = kinds.get(row["id"], "?")
        entry = found.setdefault(kind, {"class": row["gold"], "n": 0, "right": 0})
        entry["n"] += 1
        entry["right"] += row.get("predicted") == row["gold"]
    return {k: {**v, "accuracy": round(v["right"] / v["n"], 3)} for k, v in sorted(found.items())}


def data_card(counts: dict, strength: float, weight: float, measured: dict, seconds: dict, judge: str) -> str:
    same, whole, functional = measured["same_rows"], measured["test_sample"], measured["functional"]

    def line(name, m):
        toxic, clean = m["per_class"].get("toxic", {}), m["per_class"].get("non_toxic", {})
        return (f"| {name} | {m['n']} | {toxic.get('precision', 0):.3f} | {toxic.get('recall', 0):.3f} | "
                f"{toxic.get('f1', 0):.3f} | {clean.get('recall', 0):.3f} | {m['f1_macro'] or 0:.3f} | "
                f"{m['accuracy']:.3f} |")

    matrix = whole[judge]["confusion_matrix"]
    rows = "\n".join(f"| gold {g} | " + " | ".join(str(x) for x in r) + " |"
                     for g, r in zip(matrix["labels"], matrix["matrix"]))
    heads = [("embedded model + toxicity template (baseline)", functional["baseline"]),
             ("`toxicity` head before this refit (the one --out held)", functional["head_before"]),
             ("`toxicity` head", functional["head"])]
    heads = [(name, m) for name, m in heads if m]
    kinds = sorted(functional["head"]["by_kind"])
    by_kind = "\n".join(f"| {k} ({functional['head']['by_kind'][k]['class']}, "
                        f"{functional['head']['by_kind'][k]['n']}) | "
                        + " | ".join(f"{m['by_kind'].get(k, {}).get('accuracy', 0):.0%}" for _, m in heads) + " |"
                        for k in kinds)
    return f"""# Data card: the `toxicity` judge

A label head (logistic regression, L2 strength {strength}) on SmolLM2-135M-Instruct's last hidden layer (mean over the
text's tokens and its last token), reading each text under the instruction: "{PROMPT}"

- **Tweets**: Davidson et al. 2017, "Automated Hate Speech Detection and the Problem of Offensive Language" (ICWSM),
  24,783 English tweets, each labelled hate / offensive / neither by three or more CrowdFlower workers. MIT licence.
  Hate or offensive -> `toxic`; neither -> `non_toxic`. Most tweets in this set are offensive (about 77%), so `toxic`
  is the majority class; the set's tweets are full of slurs and profanity, and it says little about politely worded
  hostility, or about text that names hate to reject it.
- **Functional cases** (written for the project, its licence): {counts['functional']} sentences
  ({counts['functional_toxic']} toxic) from recipes/data/toxicity_functional_train.yaml, frames filled with seven
  groups: hate, dehumanising and threatening statements and their spelling variations (toxic); the same statements
  negated, quoted to reject them (counter-speech), neutral and positive mentions of the groups, and reclaimed words
  (not toxic). Weighted {weight}x against a tweet.
- **Split**: tweets by a checksum of each tweet's id (lab/distill.py is_held_out, 1/5 held out). Trained on
  {counts['train']} tweets sampled from the training part ({counts['train_toxic']} toxic); measured on
  {counts['test']} tweets sampled from the test part ({counts['test_toxic']} toxic). The functional check set
  (prompts/validation/toxicity_functional.jsonl, {functional['head']['n']} cases) shares no frame with the training
  frames. Nothing measured was trained on or used to pick settings: the L2 strength and the functional weight were
  picked by 5-fold cross-validation on the training data, folds keeping each frame together.
- **Recipe**: `python recipes/toxicity_judge.py --train {counts['train']} --test {counts['test']}
  --baseline-rows {same[judge]['n']}` (features {seconds['features']:.0f} s, fit and cross-validation
  {seconds['fit']:.0f} s on a 2-core CPU).

## Measured (validation harness, `--mode label`, toxic as the positive class)

Held-out tweets:

| judge | rows | precision | recall | F1 | non-toxic recall | macro F1 | accuracy |
|---|---|---|---|---|---|---|---|
{line("embedded model + toxicity template (baseline)", same["smollm2-135m-gguf"])}
{line("`toxicity` head, same rows", same[judge])}
{line("`toxicity` head, whole test sample", whole[judge])}

Confusion matrix of the head on the whole test sample (columns: predicted {", ".join(matrix["labels"])}):

| | {" | ".join(matrix["labels"])} |
|---|---|---|
{rows}

Functional check set (`python -m judge validate --data prompts/validation/toxicity_functional.jsonl --judges
toxicity --mode label`):

| judge | rows | precision | recall | F1 | non-toxic recall | macro F1 | accuracy |
|---|---|---|---|---|---|---|---|
{chr(10).join(line(name, m) for name, m in heads)}

Right per kind (class, cases):

| kind | {" | ".join(name for name, _ in heads)} |
|---|{"---|" * len(heads)}
{by_kind}
"""


def measure_functional(judges: list[str], work) -> dict[str, dict]:
    """Each judge on the functional check set (never trained on): its metrics and its accuracy per kind."""
    from basics import read_jsonl

    kinds = {row["id"]: row["kind"] for row in read_jsonl(FUNCTIONAL_CHECK)}
    found = validate(FUNCTIONAL_CHECK, judges, "label", work / "validation", template="toxicity")
    return {judge: {**{k: m[k] for k in ("n", "accuracy", "per_class", "f1_macro", "confusion_matrix",
                                         "seconds_per_item")}, "by_kind": by_kind(m["rows"], kinds)}
            for judge, m in found.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(SHARED_DATA / "davidson_toxicity.jsonl"))
    parser.add_argument("--train", type=int, default=2500, help="tweets sampled from the training part")
    parser.add_argument("--test", type=int, default=1000, help="tweets sampled from the test part")
    parser.add_argument("--baseline-rows", type=int, default=200, help="test rows the untrained baseline judges")
    parser.add_argument("--functional", default=str(FUNCTIONAL_TRAIN), help="training frames of the functional "
                        "kinds (YAML); 'none' trains on tweets alone")
    parser.add_argument("--out", default=str(ROOT / "adapters" / "shipped" / NAME))
    args = parser.parse_args()

    from basics import results_dir, write_jsonl_rows
    from finetune.head_training import fit_label_head
    from models import load_model
    from models.reward_head import FeatureCache

    tweets = load_tweets(args.data)
    train = sample([t for t in tweets if not is_held_out(t["id"], 0.2)], args.train, seed=0)
    test = sample([t for t in tweets if is_held_out(t["id"], 0.2)], args.test, seed=1)
    cases = [] if args.functional == "none" else functional_cases(args.functional)
    work = results_dir() / "recipes" / NAME
    test_file = write_jsonl_rows(work / "test.jsonl", [{k: t[k] for k in ("id", "text", "class")} for t in test])
    print(f"{len(train)} training tweets, {len(cases)} functional cases, {len(test)} test tweets ({test_file})",
          flush=True)
    out = ROOT / args.out
    before = {}
    if (out / "head.npz").is_file():  # the head being replaced, on the check set, for the before/after
        print("measuring the head in --out before refitting it on the functional check set", flush=True)
        before = measure_functional([f"head:{out.resolve()}"], work)

    backend = load_model("smollm2-135m")
    cache = FeatureCache(results_dir() / ".cache" / "features", backend.spec.text, signals=False)
    started = time.perf_counter()
    texts = [t["text"] for t in train] + [c["text"] for c in cases]
    features = np.concatenate([cache.features(backend, PROMPT, texts[i:i + 32]) for i in range(0, len(texts), 32)])
    seconds = {"features": time.perf_counter() - started}
    started = time.perf_counter()
    classes = [t["class"] for t in train] + [c["class"] for c in cases]
    frames = [t["id"] for t in train] + [c["frame"] for c in cases]
    functional = np.array([False] * len(train) + [True] * len(cases))
    strength, weight = pick_settings(features, classes, frames, functional, (1.0, 3.0, 10.0) if cases else (1.0,))
    head = fit_label_head(features, classes, LABELS, PROMPT, strength, np.where(functional, weight, 1.0))
    seconds["fit"] = time.perf_counter() - started
    counts = {"train": len(train), "train_toxic": classes[:len(train)].count("toxic"), "functional": len(cases),
              "functional_toxic": sum(c["class"] == "toxic" for c in cases), "test": len(test),
              "test_toxic": sum(t["class"] == "toxic" for t in test)}
    head.meta = {"base": "smollm2-135m", "signals": False, "name": NAME, "strength": strength,
                 "functional_weight": weight, "counts": counts, "recipe": "recipes/toxicity_judge.py",
                 "source": "davidson_toxicity.jsonl (Davidson et al. 2017, MIT); functional cases written for the "
                           "project (recipes/data/toxicity_functional_train.yaml)"}
    head.save(out)  # saved before measuring: the harness loads it as users will (by its name when shipped)
    judge = NAME if out.resolve() == (ROOT / "adapters" / "shipped" / NAME).resolve() else f"head:{out.resolve()}"

    print("measuring on the same rows: the untrained baseline and the head", flush=True)
    same = validate(test_file, ["smollm2-135m-gguf", judge], "label", work / "validation", limit=args.baseline_rows,
                    template="toxicity")
    print("measuring the head on the whole test sample", flush=True)
    whole = validate(test_file, [judge], "label", work / "validation", template="toxicity")
    print("measuring the baseline and the head on the functional check set", flush=True)
    checked = measure_functional(["smollm2-135m-gguf", judge], work)
    measured = {"same_rows": same, "test_sample": whole}
    head.meta["measured"] = {part: {judge: {k: m[k] for k in ("n", "accuracy", "per_class", "f1_macro",
                                                              "confusion_matrix", "seconds_per_item")}
                                    for judge, m in found.items()} for part, found in measured.items()}
    head.meta["measured"]["functional"] = {"baseline": checked["smollm2-135m-gguf"], "head": checked[judge],
                                           "head_before": next(iter(before.values()), None)}
    head.save(out)
    card = data_card(counts, strength, weight, {**measured, "functional": head.meta["measured"]["functional"]},
                     seconds, judge)
    (out / "DATA_CARD.md").write_text(card, encoding="utf-8")
    print(card)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
