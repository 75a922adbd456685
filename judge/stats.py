"""Statistics over run records: bootstrap score means, win rates, position and length bias, model rankings."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterable, Sequence

import numpy as np

from judge.templates import DEFAULT_CRITERIA

SIDES = ("A", "B")
RESAMPLES = 2000
LEVEL = 0.95
# Bootstrap index blocks are (resamples x n); cap a block so a long run never needs gigabytes at once.
_BLOCK_CELLS = 2_000_000


@dataclass
class Interval:
    """A mean and its percentile-bootstrap interval; every field but n is None when there was no data."""

    mean: float | None
    low: float | None
    high: float | None
    n: int


@dataclass
class WinRate:
    """`rate` = (wins + 0.5 ties) / decided; `unknown` (no winner: a reply was unparsed) is left out of it."""

    wins: int
    ties: int
    losses: int
    unknown: int
    rate: float | None
    low: float | None
    high: float | None


@dataclass
class PositionStats:
    """Position bias of a pairwise judge: first_slot_preference 0.5 means no bias, consistency_rate 1.0 means
    swapping the answers never changed a verdict."""

    consistency_rate: float | None  # share of records whose AB and BA verdicts agree
    first_slot_preference: float | None  # share of non-tie order verdicts that picked the answer shown first
    n: int  # pairwise records with both orders parsed
    n_decisive: int = 0  # non-tie order verdicts behind first_slot_preference


@dataclass
class SideLength:
    mean_tokens: float | None
    median_tokens: float | None
    mean_chars: float | None
    median_chars: float | None
    n: int


@dataclass
class LengthPreference:
    """How closely the judge's preference follows answer length in tokens: a share near 0.5 and a Spearman near 0
    mean length does not sway it; 1.0 and +1 mean the longer answer always wins / always scores higher."""

    longer_wins: int  # decided, non-tie records with unequal lengths that the longer answer won
    decisive: int  # those records, whoever won
    share_longer_wins: float | None
    spearman: float | None  # rank correlation of (len_A - len_B) with (total_A - total_B)
    n_pairs: int  # records with both lengths and both totals, behind `spearman`


@dataclass
class LengthStats:
    A: SideLength
    B: SideLength
    preference: LengthPreference


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


def mean_with_ci(values: Iterable[float], seed: int = 0, resamples: int = RESAMPLES, level: float = LEVEL) -> Interval:
    """Mean of `values` with a percentile-bootstrap interval at `level` (deterministic for a given seed)."""
    data = np.asarray([float(v) for v in values], dtype=float)
    if data.size == 0:
        return Interval(None, None, None, 0)
    mean = float(data.mean())
    if data.size == 1:  # nothing to resample: the interval collapses onto the one value
        return Interval(mean, mean, mean, 1)
    means = _bootstrap_means(data, np.random.default_rng(seed), resamples)
    low, high = _percentile_bounds(means, level)
    return Interval(mean, low, high, int(data.size))


def _bootstrap_means(data: np.ndarray, rng: np.random.Generator, resamples: int) -> np.ndarray:
    block = max(1, _BLOCK_CELLS // data.size)
    chunks = []
    for start in range(0, resamples, block):
        rows = min(block, resamples - start)
        chunks.append(data[rng.integers(0, data.size, size=(rows, data.size))].mean(axis=1))
    return np.concatenate(chunks)


def _percentile_bounds(samples: np.ndarray, level: float) -> tuple[float, float]:
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def criterion_summary(records: Sequence[dict], side: str, criterion: str, seed: int = 0,
                      resamples: int = RESAMPLES) -> Interval:
    """Mean score of one side on one criterion; records where that side is unparsed (scores None) are skipped."""
    values = [r["scores"][side][criterion] for r in records
              if (r.get("scores") or {}).get(side) is not None and r["scores"][side].get(criterion) is not None]
    return mean_with_ci(values, seed, resamples)


def total_summary(records: Sequence[dict], side: str, seed: int = 0, resamples: int = RESAMPLES) -> Interval:
    values = [r["totals"][side] for r in records if (r.get("totals") or {}).get(side) is not None]
    return mean_with_ci(values, seed, resamples)


def summarize_scores(records: Sequence[dict], criteria: Sequence[str] = DEFAULT_CRITERIA, seed: int = 0,
                     resamples: int = RESAMPLES) -> dict[str, dict[str, Interval]]:
    """{side: {criterion: Interval, ..., "total": Interval}}; unparsed sides are excluded (see unparsed_counts)."""
    return {side: {**{c: criterion_summary(records, side, c, seed, resamples) for c in criteria},
                   "total": total_summary(records, side, seed, resamples)} for side in SIDES}


def unparsed_counts(records: Sequence[dict]) -> dict[str, int]:
    """How many records each side has no scores for, i.e. how many each mean above is missing."""
    return {side: sum((r.get("scores") or {}).get(side) is None for r in records) for side in SIDES}


def win_rate(records: Sequence[dict], side: str = "A", seed: int = 0, resamples: int = RESAMPLES,
             level: float = LEVEL) -> WinRate:
    """Win rate of `side`, ties counted as half a win; the interval resamples the decided records."""
    winners = [r.get("winner") for r in records]
    wins, ties, unknown = winners.count(side), winners.count("tie"), winners.count(None)
    losses = len(winners) - wins - ties - unknown
    outcomes = [1.0 if w == side else 0.5 if w == "tie" else 0.0 for w in winners if w is not None]
    interval = mean_with_ci(outcomes, seed, resamples, level)
    return WinRate(wins, ties, losses, unknown, interval.mean, interval.low, interval.high)


def position_stats(records: Sequence[dict]) -> PositionStats:
    """Consistency across the two orders, and how often the judge picks whichever answer it was shown first.

    Only pairwise records with exactly an AB and a BA pass, both parsed, count. Order verdicts are stored in
    the original labels, so "picked the first slot" is verdict A in an AB pass and verdict B in a BA pass.
    A first_slot_preference of 0.5 means no position bias; above 0.5 the judge favours the first answer.
    """
    first_shown = {"AB": "A", "BA": "B"}
    agree = used = picked_first = decisive = 0
    for record in records:
        orders = ((record.get("judgement") or {}).get("orders")) or []
        if sorted(o.get("order") for o in orders) != ["AB", "BA"] or any(o.get("status") != "ok" for o in orders):
            continue
        used += 1
        agree += orders[0]["verdict"] == orders[1]["verdict"]
        for order in orders:
            if order["verdict"] in SIDES:
                decisive += 1
                picked_first += order["verdict"] == first_shown[order["order"]]
    return PositionStats(_share(agree, used), _share(picked_first, decisive), used, decisive)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def length_stats(records: Sequence[dict]) -> LengthStats:
    """Answer lengths per side (tokens as counted by the answering model, and characters) and length preference."""
    sides = {}
    for side in SIDES:
        answers = [r["answers"][side] for r in records if side in (r.get("answers") or {})]
        tokens = [a["n_tokens"] for a in answers if a.get("n_tokens") is not None]
        chars = [len(a.get("text") or "") for a in answers]
        sides[side] = SideLength(_mean(tokens), _median(tokens), _mean(chars), _median(chars), len(answers))
    return LengthStats(sides["A"], sides["B"], length_preference(records))


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if len(values) else None


def _median(values: Sequence[float]) -> float | None:
    return float(np.median(values)) if len(values) else None


def length_preference(records: Sequence[dict]) -> LengthPreference:
    """Share of decisive records won by the longer answer, and Spearman of length gap vs score gap.

    The share skips ties, unknown winners and equal token counts; the Spearman uses every record with both
    token counts and both totals (ties included), so a judge that merely scores longer answers a bit higher
    still shows up there.
    """
    longer_wins = decisive = 0
    length_gaps, score_gaps = [], []
    for record in records:
        len_a, len_b = (_tokens(record, side) for side in SIDES)
        if len_a is None or len_b is None:
            continue
        if record.get("winner") in SIDES and len_a != len_b:
            decisive += 1
            longer_wins += record["winner"] == ("A" if len_a > len_b else "B")
        totals = record.get("totals") or {}
        if totals.get("A") is not None and totals.get("B") is not None:
            length_gaps.append(len_a - len_b)
            score_gaps.append(totals["A"] - totals["B"])
    return LengthPreference(longer_wins, decisive, _share(longer_wins, decisive), spearman(length_gaps, score_gaps),
                            len(length_gaps))


def _tokens(record: dict, side: str) -> int | None:
    return ((record.get("answers") or {}).get(side) or {}).get("n_tokens")


def average_ranks(values: Sequence[float]) -> np.ndarray:
    """1-based ranks where tied values share the mean of the ranks they span ([10, 20, 20] -> [1, 2.5, 2.5])."""
    data = np.asarray(values, dtype=float)
    order = np.argsort(data, kind="stable")
    ordered = data[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], data.size]
    ranks = np.empty(data.size)
    ranks[order] = np.repeat((starts + ends + 1) / 2, ends - starts)  # mean of 1-based ranks start+1 .. end
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rho (Pearson on average ranks); None with fewer than 3 pairs or when either side is constant."""
    if len(x) != len(y):
        raise ValueError(f"spearman needs paired values, got {len(x)} and {len(y)}")
    if len(x) < 3:
        return None
    rx, ry = average_ranks(x), average_ranks(y)
    dx, dy = rx - rx.mean(), ry - ry.mean()
    spread = float(np.sqrt((dx * dx).sum() * (dy * dy).sum()))
    return float((dx * dy).sum() / spread) if spread > 0 else None


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
        low, high = _percentile_bounds(samples[:, j], level)
        models[name] = ModelScore(fit.strengths[name], low, high)
    ranking = sorted(names, key=lambda n: (-fit.strengths[n], n))
    return BradleyTerryRanking(models, ranking)


def _paired_labels(labels_a: Sequence, labels_b: Sequence) -> list[tuple]:
    if len(labels_a) != len(labels_b):
        raise ValueError(f"label lists differ in length: {len(labels_a)} vs {len(labels_b)}")
    # None is a missing label (an unparsed verdict, a skipped vote), not a category to agree on.
    return [(a, b) for a, b in zip(labels_a, labels_b) if a is not None and b is not None]


def agreement_rate(labels_a: Sequence, labels_b: Sequence) -> float | None:
    """Share of items with the same label on both sides; pairs with a None label are skipped."""
    pairs = _paired_labels(labels_a, labels_b)
    return _share(sum(a == b for a, b in pairs), len(pairs))


def cohen_kappa(labels_a: Sequence, labels_b: Sequence) -> float | None:
    """Cohen's kappa (po - pe) / (1 - pe); None when there are no pairs or pe == 1 (both raters constant)."""
    pairs = _paired_labels(labels_a, labels_b)
    if not pairs:
        return None
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    categories = {a for a, _ in pairs} | {b for _, b in pairs}
    expected = sum((sum(a == c for a, _ in pairs) / n) * (sum(b == c for _, b in pairs) / n) for c in categories)
    if expected >= 1 - 1e-12:
        return None
    return (observed - expected) / (1 - expected)


def summarize_run(records: Sequence[dict], criteria: Sequence[str] = DEFAULT_CRITERIA, seed: int = 0,
                  resamples: int = RESAMPLES) -> dict:
    """Everything above for one run, as plain JSON-ready data; win_rate is model A's (B's is 1 - rate).

    Bradley-Terry is left out: with the two models of one run it says no more than the win rate; pool
    several runs' records with comparisons_from_records for that.
    """
    scores = summarize_scores(records, criteria, seed, resamples)
    return {
        "n": len(records),
        "unparsed": unparsed_counts(records),
        "scores": {side: {name: asdict(i) for name, i in by_name.items()} for side, by_name in scores.items()},
        "win_rate": asdict(win_rate(records, "A", seed, resamples)),
        "position": asdict(position_stats(records)),
        "length": asdict(length_stats(records)),
    }
