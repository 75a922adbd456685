"""Bradley-Terry ranking of models from pairwise verdicts, with bootstrap intervals (pooled over runs)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analysis.stats import LEVEL, percentile_bounds


@dataclass
class BradleyTerryFit:
    strengths: dict[str, float]  # geometric mean 1: a strength of 2 beats an average model 2 times in 3
    log_strengths: dict[str, float]  # mean 0; differences are log-odds of winning


@dataclass
class ModelScore:
    score: float
    low: float
    high: float


@dataclass
class BradleyTerryRanking:
    models: dict[str, ModelScore]
    ranking: list[str]  # strongest first

    def ranks(self, decimals: int = 2) -> dict[str, int]:
        """Competition ranks (1, 1, 3): models whose strengths are equal at `decimals` share a rank, so two models
        shown as 1.00 and 1.00 are not ranked 1 and 2."""
        ranks: dict[str, int] = {}
        for place, name in enumerate(self.ranking, 1):
            previous = self.ranking[place - 2] if place > 1 else None
            same = previous is not None and (round(self.models[previous].score, decimals)
                                             == round(self.models[name].score, decimals))
            ranks[name] = ranks[previous] if same else place
        return ranks


def comparisons_from_records(records: Sequence[dict]) -> list[tuple]:
    """Records as Bradley-Terry comparisons between model names; unknown winners and self-matches are skipped."""
    comparisons = []
    for record in records:
        a, b, winner = record.get("model_a"), record.get("model_b"), record.get("winner")
        if winner is None or a is None or b is None or a == b:
            continue
        comparisons.append((a, b, "tie") if winner == "tie" else (a, b) if winner == "A" else (b, a))
    return comparisons


def _win_matrix(comparisons: Sequence[tuple], names: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row index, column index, credit) per comparison: a win is 1 to the winner, a tie 0.5 each way."""
    index = {name: i for i, name in enumerate(names)}
    rows, cols, credit = [], [], []
    for comparison in comparisons:
        first, second = comparison[0], comparison[1]
        if first == second:
            raise ValueError(f"a model cannot be compared with itself: {comparison!r}")
        if len(comparison) == 3 and comparison[2] == "tie":
            rows += [index[first], index[second]]
            cols += [index[second], index[first]]
            credit += [0.5, 0.5]
        elif len(comparison) == 2:
            rows.append(index[first])
            cols.append(index[second])
            credit.append(1.0)
        else:
            raise ValueError(f"expected (winner, loser) or (a, b, 'tie'), got {comparison!r}")
    return np.asarray(rows, dtype=int), np.asarray(cols, dtype=int), np.asarray(credit)


def _model_names(comparisons: Sequence[tuple]) -> list[str]:
    return sorted({name for c in comparisons for name in c[:2]})


def _fit_strengths(wins: np.ndarray, prior: float, iterations: int, tol: float = 1e-10) -> np.ndarray:
    """Hunter's (2004) MM update p_i <- W_i / sum_j n_ij / (p_i + p_j), renormalised to geometric mean 1.

    `wins` is (k, k) or a batch (..., k, k), so bootstrap resamples are fitted together.
    """
    k = wins.shape[-1]
    # The prior is `prior` virtual wins each way for every pair: the comparison graph is then complete, so the
    # maximum exists and is finite even for a model that never won; its pull toward equal fades with more data.
    wins = wins + prior * (1 - np.eye(k))
    games = wins + np.swapaxes(wins, -1, -2)
    won = wins.sum(axis=-1)
    if np.any(won <= 0):
        raise ValueError("a model with no wins has no finite Bradley-Terry strength: use prior > 0")
    strengths = np.ones(won.shape)
    for _ in range(iterations):
        pair_sums = strengths[..., :, None] + strengths[..., None, :]
        updated = won / (games / pair_sums).sum(axis=-1)
        updated = updated / np.exp(np.mean(np.log(updated), axis=-1, keepdims=True))
        change = np.max(np.abs(updated - strengths))
        strengths = updated
        if change <= tol:
            break
    return strengths


def bradley_terry(comparisons: Sequence[tuple], iterations: int = 200, prior: float = 0.5) -> BradleyTerryFit:
    """Bradley-Terry strengths from (winner, loser) pairs and (a, b, "tie") triples (half a win each way).

    `prior` adds that many pseudo-wins each way between every two models (default 0.5), so a model that never
    wins keeps a small positive strength. prior=0 fits the plain MLE, which exists only when no group of models
    is unbeaten by the rest (Hunter's condition); a model with no wins at all raises ValueError then.
    """
    names = _model_names(comparisons)
    if not names:
        return BradleyTerryFit({}, {})
    rows, cols, credit = _win_matrix(comparisons, names)
    wins = np.zeros((len(names), len(names)))
    np.add.at(wins, (rows, cols), credit)
    strengths = _fit_strengths(wins, prior, iterations)
    return BradleyTerryFit({n: float(s) for n, s in zip(names, strengths)},
                           {n: float(np.log(s)) for n, s in zip(names, strengths)})


def bradley_terry_with_ci(comparisons: Sequence[tuple], seed: int = 0, resamples: int = 500, level: float = LEVEL,
                          iterations: int = 200, prior: float = 0.5) -> BradleyTerryRanking:
    """Strengths with percentile intervals from resampling the comparisons, and the models strongest first.

    Every resample is fitted over all models seen in the full data (the prior keeps one that drops out of a
    resample finite), so intervals stay comparable across models.
    """
    fit = bradley_terry(comparisons, iterations, prior)
    names = sorted(fit.strengths)
    if not names:
        return BradleyTerryRanking({}, [])
    rows, cols, credit = _win_matrix(comparisons, names)
    # A tie is two credit entries; resample whole comparisons so its halves stay together.
    owner = np.repeat(np.arange(len(comparisons)), [2 if len(c) == 3 else 1 for c in comparisons])
    rng = np.random.default_rng(seed)
    counts = np.stack([np.bincount(rng.integers(0, len(comparisons), len(comparisons)), minlength=len(comparisons))
                       for _ in range(resamples)])
    # (resamples, entries) credits summed into (resamples, k*k) cells by one product with a one-hot cell map.
    cells = np.zeros((len(rows), len(names) ** 2))
    cells[np.arange(len(rows)), rows * len(names) + cols] = 1
    wins = ((credit * counts[:, owner]) @ cells).reshape(resamples, len(names), len(names))
    samples = _fit_strengths(wins, prior, iterations)
    models = {}
    for j, name in enumerate(names):
        low, high = percentile_bounds(samples[:, j], level)
        models[name] = ModelScore(fit.strengths[name], low, high)
    ranking = sorted(names, key=lambda n: (-fit.strengths[n], n))
    return BradleyTerryRanking(models, ranking)
