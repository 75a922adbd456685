"""Distilling a judge: labels from a teacher (the file's own gold labels, or any judge spec, cached) on labelled pairs,
split by prompt, a scoring student (a reward head on the embedded model: models/reward_head.py) trained on the
train part plus degraded pairs of its preferred answers, then student and an untrained baseline judge measured against
the teacher on the held-out part. The student is registered under the adapters folder's judges/NAME, so every judge
picker offers it as head:FOLDER; its folder holds the head, meta.json and report.json (before/after, learning curve).
"""
from __future__ import annotations

import time
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from analysis.judge_metrics import PairOutcome, pairwise_metrics
from basics import UserFacingError, adapters_dir, now_iso, results_dir, write_json_atomic
from finetune.degradations import degraded_pairs
from finetune.head_training import HeadRecipe, fit_criterion_heads
from judge.templates import default_template
from lab.validation import LabelledItem, ValidationConfig, judge_item, load_labelled
from models import load_model
from models.reward_head import FeatureCache, RewardHead
from runs.config import resolve_method
from runs.judge_cache import cached_judges

GOLD = "gold"
JUDGES_FOLDER = "judges"


def registered_judges_dir() -> Path:
    return adapters_dir() / JUDGES_FOLDER


@dataclass
class DistillConfig:
    data: str  # a labelled pairs file (lab/validation.py)
    name: str = "student"  # the student's folder under registered_judges_dir()
    teacher: str = GOLD  # GOLD: the file's labels; else a judge spec whose verdicts are the labels
    base: str = "smollm2-135m"  # the student's base model (transformers)
    baseline: str | None = "smollm2-135m-gguf"  # an untrained judge measured beside the student; None: skip
    held_out: float = 0.2  # share of prompts held out (split by prompt, never by row)
    degrade: bool = True  # also train on degraded pairs of the train part's preferred answers
    limit: int = 0  # only the first N rows (0 = all)
    out_dir: str = field(default_factory=lambda: str(registered_judges_dir()))
    recipe: HeadRecipe = field(default_factory=HeadRecipe)  # how the heads are fit


@dataclass
class DistillUpdate:
    stage: str  # "labelling" | "features" | "training" | "validating" | "done"
    message: str
    folder: Path | None = None
    report: dict | None = None
    done: int = 0  # answers (features) or pairs (labelling, validating) done in this stage
    total: int = 0


def is_held_out(prompt: str, share: float) -> bool:
    """A prompt's side of the split, by a stable hash of its text: every row of a prompt lands on one side."""
    return zlib.crc32(prompt.encode("utf-8")) % 1000 < share * 1000


def run_distill(config: DistillConfig) -> Iterator[DistillUpdate]:
    data = load_labelled(config.data)
    if data.kind != "pairs":
        raise UserFacingError(f"{Path(data.source).name} holds {data.kind}: distilling a scoring judge needs pairs "
                              "(prompt, answer_a, answer_b, label)")
    items = data.items[: config.limit or None]
    folder = Path(config.out_dir) / config.name
    started = time.perf_counter()
    yield DistillUpdate("labelling", f"labelling {len(items)} pairs with {config.teacher}", folder)
    rows = teacher_rows(items, config.teacher)
    label_seconds = time.perf_counter() - started
    train = [r for r in rows if not is_held_out(r["prompt"], config.held_out)]
    test = [r for r in rows if is_held_out(r["prompt"], config.held_out)]
    if not train or not test or not any(r["label"] in ("A", "B") for r in train):
        raise UserFacingError(f"the split by prompt left {len(train)} train and {len(test)} held-out pairs: give more "
                              "pairs (several prompts), or change --held-out")
    degraded = []
    if config.degrade:
        good = [(r["id"], r["prompt"], r["answer_a"] if r["label"] == "A" else r["answer_b"])
                for r in train if r["label"] in ("A", "B")]
        degraded = [p.to_dict() for p in degraded_pairs(good)]
    n_answers = 2 * (len(rows) + len(degraded))
    yield DistillUpdate("features", f"reading features of {n_answers} answers", folder, total=n_answers)
    base = load_model(config.base)
    cache = FeatureCache(results_dir() / ".cache" / "features", base.spec.text)
    started = time.perf_counter()
    features, seconds, done = {}, {}, 0
    for name, part in (("train", train), ("test", test), ("degraded", degraded)):
        pairs, part_started = [], time.perf_counter()
        for row in part:
            pairs.append(cache.features(base, row["prompt"], [row["answer_a"], row["answer_b"]]))
            done += 2
            yield DistillUpdate("features", f"features: {done} of {n_answers} answers", folder, done=done,
                                total=n_answers)
        features[name] = sides_of(pairs)
        seconds[name] = time.perf_counter() - part_started
    feature_seconds = time.perf_counter() - started
    yield DistillUpdate("training", f"training on {len(train)} pairs and {len(degraded)} degraded pairs", folder)
    started = time.perf_counter()
    losses: dict[str, list[float]] = {}
    head = fit_criterion_heads([(train, features["train"]), (degraded, features["degraded"])], config.recipe,
                               losses=losses)
    fit_seconds = time.perf_counter() - started
    curve = learning_curve(train, features["train"], degraded, features["degraded"], test, features["test"],
                           config.recipe)
    yield DistillUpdate("validating", f"measuring against {config.teacher} on {len(test)} held-out pairs", folder,
                        total=len(test))
    started = time.perf_counter()
    student = agreement(test, head_verdicts(head, features["test"]))
    student_seconds = time.perf_counter() - started + seconds["test"]  # reading the held-out answers is judging them
    report = {"created": now_iso(), "config": asdict(config), "data": data.source, "teacher": config.teacher,
              "counts": {"pairs": len(rows), "train": len(train), "held_out": len(test), "degraded": len(degraded)},
              "student": student, "learning_curve": curve, "loss_curve": losses,
              "items_per_second": {"labelling": None if config.teacher == GOLD else  # gold labels: nothing to do
                                   round(len(rows) / max(label_seconds, 1e-9), 2),
                                   "features": round(n_answers / max(feature_seconds, 1e-9), 2),
                                   "training": round((len(train) + len(degraded)) / max(fit_seconds, 1e-9), 1),
                                   "validating_student": round(len(test) / max(student_seconds, 1e-9), 2)}}
    if config.baseline:
        started = time.perf_counter()
        baseline_rows = teacher_rows_of(test, config.baseline)
        report["items_per_second"]["validating_baseline"] = round(len(test) / (time.perf_counter() - started), 2)
        report["baseline"] = {"judge": config.baseline, **agreement(test, [r["predicted"] for r in baseline_rows])}
    head.meta.update({"base": config.base, "teacher": config.teacher, "data": data.source,
                      "counts": report["counts"],
                      "measured": {"student": report["student"], "baseline": report.get("baseline")}})
    head.save(folder)
    write_json_atomic(folder / "report.json", report)
    yield DistillUpdate("done", f"student saved to {folder}: use it as head:{folder}", folder, report)


def teacher_rows(items: list[LabelledItem], teacher: str) -> list[dict]:
    """The pairs as rows with the teacher's label (`label`): the gold label, or the teacher judge's verdict."""
    rows = [{"id": i.id, "prompt": i.prompt, "answer_a": i.answer_a, "answer_b": i.answer_b, "label": i.gold}
            for i in items]
    if teacher == GOLD:
        return rows
    verdicts = teacher_rows_of(rows, teacher)
    return [{**row, "label": v["predicted"]} for row, v in zip(rows, verdicts) if v["predicted"] is not None]


def teacher_rows_of(rows: list[dict], spec: str) -> list[dict]:
    """A judge's verdict rows (lab/validation.py judge_item) on the pairs, its calls cached."""
    (judge,), _ = cached_judges([load_model(spec)], enabled=True)
    config = ValidationConfig(data="", judges=[spec])  # pairwise, both orders, the judge's default settings
    items = [LabelledItem(id=r["id"], prompt=r["prompt"], answer_a=r["answer_a"], answer_b=r["answer_b"],
                          gold=r["label"]) for r in rows]
    method, template = resolve_method("auto", judge), default_template("pairwise")
    return [judge_item(judge, template, config, "pairs", item, method) for item in items]


def pair_features(cache: FeatureCache, base, rows: list[dict]):
    return sides_of([cache.features(base, r["prompt"], [r["answer_a"], r["answer_b"]]) for r in rows])


def sides_of(pairs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-pair (2, features) arrays as (features of every answer A, of every answer B); empty when no pairs."""
    if not pairs:
        return np.zeros((0, 1)), np.zeros((0, 1))
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def head_verdicts(head: RewardHead, features) -> list[str]:
    if not len(features[0]):
        return []
    totals_a, totals_b = (sum(head.scores(f).values()) for f in features)
    return ["A" if a > b else "B" if b > a else "tie" for a, b in zip(totals_a, totals_b)]


def agreement(rows: list[dict], predicted: list) -> dict:
    """Agreement with the teacher (ties 1/2) with its interval, and the longer-answer baseline on the same rows."""
    def metrics(verdicts):
        return pairwise_metrics([PairOutcome(gold=r["label"], predicted=v, len_a=len(r["answer_a"]),
                                             len_b=len(r["answer_b"])) for r, v in zip(rows, verdicts)])

    found = metrics(predicted)
    longer = metrics(["A" if len(r["answer_a"]) > len(r["answer_b"]) else "B" for r in rows])
    return {"n": found["n"], "agreement": found["agreement"], "agreement_ci": found["agreement_ci"],
            "length_balanced_agreement": found["length_balanced_agreement"],
            "length_balanced_n": found["length_balanced_n"], "longer_wins_same_rows": longer["agreement"],
            "longer_wins_ci": longer["agreement_ci"]}


def learning_curve(train, train_features, degraded, degraded_features, test, test_features,
                   recipe: HeadRecipe = HeadRecipe()) -> list[dict]:
    """Held-out agreement of heads fit on growing shares of the training pairs (degraded pairs in proportion)."""
    curve = []
    for share in (0.25, 0.5, 1.0):
        n, m = max(2, int(len(train) * share)), int(len(degraded) * share)
        try:
            head = fit_criterion_heads([(train[:n], train_features), (degraded[:m], degraded_features)], recipe)
        except ValueError:
            continue  # too few decisive pairs at this share
        curve.append({"train_pairs": n, "degraded_pairs": m,
                      "agreement": agreement(test, head_verdicts(head, test_features))["agreement"]})
    return curve
