"""Fitting heads on frozen features (models/reward_head.py): reward heads as Bradley-Terry weights from preference
pairs, one per rubric criterion, and label heads (text classifiers) by logistic regression."""
from __future__ import annotations

import numpy as np

from models.reward_head import LabelHead, RewardHead

CRITERIA = ("relevance", "coherence", "completeness")


def fit_pair_weights(better: np.ndarray, worse: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """Bradley-Terry weights from paired features (row i of `better` beat row i of `worse`): logistic regression
    on the differences, both signs, no intercept; `strength` is the inverse L2 penalty (sklearn's C)."""
    from sklearn.linear_model import LogisticRegression

    differences = better - worse
    x = np.concatenate([differences, -differences])
    y = np.concatenate([np.ones(len(differences)), np.zeros(len(differences))])
    scale = np.abs(x).mean(axis=0) + 1e-6  # features differ in range: fit on comparable columns, then undo
    model = LogisticRegression(C=strength, fit_intercept=False, max_iter=2000).fit(x / scale, y)
    return model.coef_[0] / scale


def fit_criterion_heads(parts: list[tuple[list[dict], tuple[np.ndarray, np.ndarray]]], strength: float = 0.5,
                        criteria: tuple[str, ...] = CRITERIA) -> RewardHead:
    """A head per criterion from (rows, (features of answer A, of answer B)) parts. A row with a `criterion` (a
    degraded pair: finetune/degradations.py) trains only that criterion's head ("all": every head); a row without
    one (a judged or human pair) trains every head. Ties teach nothing about order and are left out."""
    weights = {}
    for criterion in criteria:
        better, worse = [], []
        for rows, (features_a, features_b) in parts:
            for i, row in enumerate(rows):
                if row["label"] not in ("A", "B") or row.get("criterion") not in (None, criterion, "all"):
                    continue
                good, bad = (features_a[i], features_b[i]) if row["label"] == "A" else (features_b[i], features_a[i])
                better.append(good)
                worse.append(bad)
        if not better:
            raise ValueError(f"no decisive pair trains the {criterion} head: give pairs labelled A or B")
        weights[criterion] = fit_pair_weights(np.stack(better), np.stack(worse), strength=strength)
    return RewardHead(weights)


def fit_label_head(features: np.ndarray, classes: list[str], labels: tuple[str, ...], prompt: str,
                   strength: float = 0.5) -> LabelHead:
    """A text classifier (models/reward_head.py LabelHead) from features and their gold classes: logistic
    regression with a bias per label (two labels: one weight vector, split as +w/2 and -w/2)."""
    from sklearn.linear_model import LogisticRegression

    unknown = sorted(set(classes) - set(labels))
    if unknown:
        raise ValueError(f"classes {unknown} are not among the labels {', '.join(labels)}")
    if len(set(classes)) < 2:
        raise ValueError("a classifier needs examples of at least two labels")
    scale = np.abs(features).mean(axis=0) + 1e-6
    model = LogisticRegression(C=strength, max_iter=3000).fit(features / scale, classes)
    found = list(model.classes_)
    if len(found) == 2:  # sklearn fits P(second class): one vector, shared between the two labels
        coef, bias = model.coef_[0] / scale, float(model.intercept_[0])
        weights = {found[0]: -coef / 2, found[1]: coef / 2}
        biases = {found[0]: -bias / 2, found[1]: bias / 2}
    else:
        weights = {x: model.coef_[i] / scale for i, x in enumerate(found)}
        biases = {x: float(model.intercept_[i]) for i, x in enumerate(found)}
    zero = np.zeros(features.shape[1])
    return LabelHead({x: weights.get(x, zero) for x in labels}, {x: biases.get(x, -50.0) for x in labels}, prompt)
