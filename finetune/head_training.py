"""Fitting heads on frozen features (models/reward_head.py): reward heads as Bradley-Terry weights from preference
pairs, one per rubric criterion, and label heads (text classifiers) by logistic regression."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from models.reward_head import SIGNALS, LabelHead, RewardHead

CRITERIA = ("relevance", "coherence", "completeness")


@dataclass(frozen=True)
class HeadRecipe:
    """How criterion heads are fit. `strength` is the inverse L2 penalty (sklearn's C) of the reading signals;
    `hidden_strength` that of the hidden-layer columns (None: the same); `tie_strength` pulls a head toward no
    preference on degraded pairs whose degradation hurts another criterion (an off-topic answer can be coherent);
    `human_weight` weighs pairs that name no criterion (people's or a teacher's verdicts) against degraded ones."""

    strength: float = 0.5
    hidden_strength: float | None = None
    tie_strength: float = 0.0
    human_weight: float = 1.0

    def column_strengths(self, n_columns: int) -> np.ndarray:
        hidden = self.strength if self.hidden_strength is None else self.hidden_strength
        n_hidden = max(n_columns - len(SIGNALS), 0)  # features end with the signals (models/reward_head.py)
        return np.r_[np.full(n_hidden, hidden), np.full(n_columns - n_hidden, self.strength)]


def fit_pair_weights(better: np.ndarray, worse: np.ndarray, strength: float | np.ndarray = 1.0,
                     losses: list[float] | None = None, weights: np.ndarray | None = None,
                     same: tuple[np.ndarray, np.ndarray] | None = None, tie_strength: float = 0.0) -> np.ndarray:
    """Bradley-Terry weights from paired features (row i of `better` beat row i of `worse`): logistic regression
    on the differences, no intercept, L2 penalty 1/`strength` (sklearn's C, the same optimum; one per column when an
    array), by L-BFGS. `weights` weigh the pairs; `same` holds pairs the head should not tell apart, pulled toward
    equal scores by `tie_strength`. `losses`, when given, receives the mean training log-loss after each iteration:
    the head's loss curve."""
    from scipy.optimize import minimize
    from scipy.special import expit, log_expit

    differences = better - worse
    ties = same[0] - same[1] if same is not None and len(same[0]) else np.zeros((0, differences.shape[1]))
    scale = np.abs(np.concatenate([differences, ties])).mean(axis=0) + 1e-6  # fit on comparable columns, undo
    x, z = differences / scale, ties / scale
    weights = np.ones(len(x)) if weights is None else weights
    penalty = 1 / np.broadcast_to(np.asarray(strength, dtype=float), (x.shape[1],))

    def objective(w):
        margin, tied = x @ w, z @ w  # both signs of a pair give the same loss: one side, counted twice
        loss = 0.5 * (penalty * w) @ w - 2 * (weights * log_expit(margin)).sum() + tie_strength * tied @ tied
        gradient = penalty * w - 2 * x.T @ (weights * expit(-margin)) + 2 * tie_strength * z.T @ tied
        return loss, gradient

    def record(w):
        if losses is not None:
            losses.append(round(float(-log_expit(x @ w).mean()), 5))

    record(np.zeros(x.shape[1]))  # the curve starts where every head starts: no preference, log 2
    found = minimize(objective, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B", callback=record,
                     options={"maxiter": 3000})
    return found.x / scale


def fit_criterion_heads(parts: list[tuple[list[dict], tuple[np.ndarray, np.ndarray]]],
                        recipe: HeadRecipe = HeadRecipe(), criteria: tuple[str, ...] = CRITERIA,
                        losses: dict | None = None) -> RewardHead:
    """A head per criterion from (rows, (features of answer A, of answer B)) parts. A row with a `criterion` (a
    degraded pair: finetune/degradations.py) trains only that criterion's head ("all": every head), and with a tie
    strength teaches the other heads to see no difference; a row without one (a judged or human pair) trains every
    head. Ties in the labels teach nothing about order and are left out. `losses`, when given, receives each
    criterion's loss curve."""
    heads = {}
    for criterion in criteria:
        better, worse, weights, same_a, same_b = [], [], [], [], []
        for rows, (features_a, features_b) in parts:
            for i, row in enumerate(rows):
                if row["label"] not in ("A", "B"):
                    continue
                good, bad = (features_a[i], features_b[i]) if row["label"] == "A" else (features_b[i], features_a[i])
                if row.get("criterion") not in (None, criterion, "all"):
                    same_a.append(good)
                    same_b.append(bad)
                    continue
                better.append(good)
                worse.append(bad)
                weights.append(recipe.human_weight if row.get("criterion") is None else 1.0)
        if not better:
            raise ValueError(f"no decisive pair trains the {criterion} head: give pairs labelled A or B")
        columns = len(better[0])
        same = (np.stack(same_a), np.stack(same_b)) if same_a and recipe.tie_strength else None
        curve = losses.setdefault(criterion, []) if losses is not None else None
        heads[criterion] = fit_pair_weights(np.stack(better), np.stack(worse), recipe.column_strengths(columns),
                                            curve, np.array(weights), same, recipe.tie_strength)
    return RewardHead(heads, meta={"recipe": asdict(recipe)})


def fit_label_head(features: np.ndarray, classes: list[str], labels: tuple[str, ...], prompt: str,
                   strength: float = 0.5, sample_weight: np.ndarray | None = None) -> LabelHead:
    """A text classifier (models/reward_head.py LabelHead) from features and their gold classes: logistic
    regression with a bias per label (two labels: one weight vector, split as +w/2 and -w/2); `sample_weight`
    weighs each example's loss (None: all 1)."""
    from sklearn.linear_model import LogisticRegression

    unknown = sorted(set(classes) - set(labels))
    if unknown:
        raise ValueError(f"classes {unknown} are not among the labels {', '.join(labels)}")
    if len(set(classes)) < 2:
        raise ValueError("a classifier needs examples of at least two labels")
    scale = np.abs(features).mean(axis=0) + 1e-6
    model = LogisticRegression(C=strength, max_iter=3000).fit(features / scale, classes,
                                                             sample_weight=sample_weight)
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
