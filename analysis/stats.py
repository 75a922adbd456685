"""Statistics over run records: bootstrap score means, outcome counts, win rates, position and length bias."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from statistics import NormalDist

import numpy as np

from judge.rubric import DEFAULT_RUBRIC, Rubric

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


def mean_with_ci(values: Iterable[float], seed: int = 0, resamples: int = RESAMPLES, level: float = LEVEL) -> Interval:
    """Mean of `values` with a percentile-bootstrap interval at `level` (deterministic for a given seed)."""
    data = np.asarray([float(v) for v in values], dtype=float)
    if data.size == 0:
        return Interval(None, None, None, 0)
    mean = float(data.mean())
    if data.size == 1:  # nothing to resample: the interval collapses onto the one value
        return Interval(mean, mean, mean, 1)
    means = _bootstrap_means(data, np.random.default_rng(seed), resamples)
    low, high = percentile_bounds(means, level)
    return Interval(mean, low, high, int(data.size))


def wilson_interval(successes: float, n: int, level: float = LEVEL) -> tuple[float, float] | None:
    """Wilson's score interval for a proportion of `successes` in `n` (None for n = 0): it never collapses to a
    point, so 12 of 12 reads 76%-100%, not 100%-100%."""
    if n <= 0:
        return None
    # The standard library's normal quantile: scipy.stats' is the same to 1e-15, and importing scipy.stats took ~0.6 s
    # of a first compare's wall time (benchmarks/study_speed.py).
    z = NormalDist().inv_cdf(1 - (1 - level) / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low = 0.0 if successes <= 0 else max(0.0, float(centre - half))
    return low, 1.0 if successes >= n else min(1.0, float(centre + half))


def _bootstrap_means(data: np.ndarray, rng: np.random.Generator, resamples: int) -> np.ndarray:
    block = max(1, _BLOCK_CELLS // data.size)
    chunks = []
    for start in range(0, resamples, block):
        rows = min(block, resamples - start)
        chunks.append(data[rng.integers(0, data.size, size=(rows, data.size))].mean(axis=1))
    return np.concatenate(chunks)


def percentile_bounds(samples: np.ndarray, level: float) -> tuple[float, float]:
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


def rubric_of(records: Sequence[dict]) -> Rubric:
    """The rubric the records were judged on: as recorded, else the criteria of their scores, else the default."""
    for record in records:
        if record.get("rubric"):
            return Rubric.from_dict(record["rubric"])
    for record in records:
        for side in SIDES:
            scores = (record.get("scores") or {}).get(side)
            if scores:
                return Rubric(tuple(scores), DEFAULT_RUBRIC.scale)
    return DEFAULT_RUBRIC


def summarize_scores(records: Sequence[dict], criteria: Sequence[str] | None = None, seed: int = 0,
                     resamples: int = RESAMPLES) -> dict[str, dict[str, Interval]]:
    """{side: {criterion: Interval, ..., "total": Interval}}; unparsed sides are excluded (see unparsed_counts).
    `criteria` default to the records' rubric."""
    criteria = rubric_of(records).criteria if criteria is None else criteria
    return {side: {**{c: criterion_summary(records, side, c, seed, resamples) for c in criteria},
                   "total": total_summary(records, side, seed, resamples)} for side in SIDES}


def unparsed_counts(records: Sequence[dict]) -> dict[str, int]:
    """How many records each side has no scores for, i.e. how many each mean above is missing."""
    return {side: sum((r.get("scores") or {}).get(side) is None for r in records) for side in SIDES}


def count_outcomes(records: Sequence[dict]) -> dict[str, int]:
    """How many records A won, B won, tied, or got no verdict ("unknown": a judge reply was unparsed)."""
    winners = [r.get("winner") for r in records]
    return {"A": winners.count("A"), "B": winners.count("B"), "tie": winners.count("tie"),
            "unknown": winners.count(None)}


def mean_totals(records: Sequence[dict]) -> dict[str, float | None]:
    """Each side's mean total score over the records where it was scored (no interval: see total_summary)."""
    means = {}
    for side in SIDES:
        values = [r["totals"][side] for r in records if (r.get("totals") or {}).get(side) is not None]
        means[side] = round(sum(values) / len(values), 3) if values else None
    return means


def win_rate(records: Sequence[dict], side: str = "A", seed: int = 0, resamples: int = RESAMPLES,
             level: float = LEVEL) -> WinRate:
    """Win rate of `side`, ties counted as half a win, with Wilson's interval over the decided records (a bootstrap
    of ten straight wins collapses to 100%-100%, which reads as certainty; Wilson's says 72%-100%). Ties vary less
    than a win or a loss, so counting them as half a success makes the interval a little wide, never too narrow.
    `seed` and `resamples` are kept for callers of the bootstrap version."""
    counts = count_outcomes(records)
    wins, ties, unknown = counts[side], counts["tie"], counts["unknown"]
    losses = len(records) - wins - ties - unknown
    decided = wins + ties + losses
    if not decided:
        return WinRate(wins, ties, losses, unknown, None, None, None)
    low, high = wilson_interval(wins + ties / 2, decided, level)
    return WinRate(wins, ties, losses, unknown, (wins + ties / 2) / decided, low, high)


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


def summarize_run(records: Sequence[dict], criteria: Sequence[str] | None = None, seed: int = 0,
                  resamples: int = RESAMPLES) -> dict:
    """Everything above for one run, as plain JSON-ready data; win_rate is model A's (B's is 1 - rate).
    `criteria` default to the records' rubric (rubric_of), so an edited template's criteria are summarised too.

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
