"""Fitting a reward head (models/reward_head.py): Bradley-Terry weights from preference pairs' features."""
from __future__ import annotations

import numpy as np


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
