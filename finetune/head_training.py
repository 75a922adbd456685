"""Fitting a reward head (models/reward_head.py): Bradley-Terry weights from preference pairs' features, one head
per rubric criterion."""
from __future__ import annotations

import numpy as np

from models.reward_head import RewardHead

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
