"""Length-controlled win rate (AlpacaEval's idea): a logistic model of the verdict on the answers' length difference,
read at zero difference, so a judge that rewards the longer answer cannot pass length off as quality."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from analysis.stats import LEVEL, RESAMPLES, percentile_bounds, wilson_interval

MIN_DECIDED = 8  # fewer decided records with lengths than this: "not enough data", never a number
# Light ridge penalties: the slope's keeps a fit whose verdicts nearly follow length alone finite (a bootstrap
# resample may be perfectly sorted by length); the intercept's is tiny, only so it stays finite where a resample has
# A winning every time, without moving an ordinary rate. A heavier slope penalty would hand part of the length
# effect back to the intercept: 0.5 put a length-only judge at 56% on 120 records, 0.1 at 54%, none at 53%.
SLOPE_PENALTY = 0.1
INTERCEPT_PENALTY = 1e-4
_ITERATIONS = 100
_MAX_STEP = 4.0  # damped Newton: a step never moves a coefficient further than this (log-odds)
_FLAT = 1e-9  # length features closer together than this count as no variation
_BLOCK_CELLS = 2_000_000  # bootstrap weights are (resamples x n): fitted in blocks of at most this many cells
BOOTSTRAP = "percentile bootstrap over records"
WILSON = "Wilson's interval (every decided verdict was the same, so length had nothing to explain)"
OUTCOME = {"A": 1.0, "B": 0.0, "tie": 0.5}


@dataclass
class LengthControlled:
    """A's win rate predicted at equal answer length, with its interval; `reason` says why there is no number.

    The model: P(A wins) = sigmoid(intercept + slope * x), x = tanh(log((len_A + 1) / (len_B + 1))), fitted to the
    decided records (ties as half a win); `rate` = sigmoid(intercept), the win rate where x = 0. `slope` > 0 means
    the judge leans toward the longer answer. `raw` is the plain win rate over the same records."""

    rate: float | None
    low: float | None
    high: float | None
    raw: float | None
    slope: float | None
    n: int  # decided records with both lengths
    a_longer: int  # of those, records where A's answer was the longer / B's / both equally long
    b_longer: int
    equal: int
    unit: str  # "tokens", "characters", or "tokens and characters" when some records lacked token counts
    interval: str | None  # how the interval was made
    reason: str | None  # "not enough data: ..." where there is no rate

    def to_dict(self) -> dict:
        return asdict(self)


def record_lengths(record: dict) -> tuple[float, float, str] | None:
    """(len_A, len_B, unit): token counts where both sides have one, else characters; None without answers."""
    answers = record.get("answers") or {}
    a, b = answers.get("A"), answers.get("B")
    if not isinstance(a, dict) or not isinstance(b, dict):
        return None
    tokens_a, tokens_b = _count(a.get("n_tokens")), _count(b.get("n_tokens"))
    if tokens_a is not None and tokens_b is not None:
        return tokens_a, tokens_b, "tokens"
    return float(len(str(a.get("text") or ""))), float(len(str(b.get("text") or ""))), "characters"


def _count(value) -> float | None:
    """A token count as a number, None where it is missing or not a count."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        return None
    return float(value)


def length_feature(len_a: float, len_b: float) -> float:
    """tanh of the log length ratio: 0 at equal length, bounded in (-1, 1), the same in tokens or characters (a
    ratio has no unit), and one very long answer cannot dominate the fit."""
    return float(np.tanh(np.log((len_a + 1.0) / (len_b + 1.0))))


def fit_logistic(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(intercepts, slopes), one pair per row of `weights` (resamples x n): penalised maximum likelihood of
    sigmoid(a + b x) for outcomes y in [0, 1], by damped Newton steps on all rows at once."""
    weights = np.atleast_2d(weights)
    a, b = np.zeros(len(weights)), np.zeros(len(weights))
    for _ in range(_ITERATIONS):
        p = 1.0 / (1.0 + np.exp(-(a[:, None] + b[:, None] * x)))
        residual, curvature = weights * (p - y), weights * p * (1.0 - p)
        grad_a = residual.sum(axis=1) + INTERCEPT_PENALTY * a
        grad_b = (residual * x).sum(axis=1) + SLOPE_PENALTY * b
        h_aa = curvature.sum(axis=1) + INTERCEPT_PENALTY
        h_ab = (curvature * x).sum(axis=1)
        h_bb = (curvature * x * x).sum(axis=1) + SLOPE_PENALTY
        det = h_aa * h_bb - h_ab * h_ab
        step_a = np.clip((h_bb * grad_a - h_ab * grad_b) / det, -_MAX_STEP, _MAX_STEP)
        step_b = np.clip((h_aa * grad_b - h_ab * grad_a) / det, -_MAX_STEP, _MAX_STEP)
        a, b = a - step_a, b - step_b
        if max(np.abs(step_a).max(), np.abs(step_b).max()) < 1e-10:
            break
    return a, b


def _sigmoid(value):
    return 1.0 / (1.0 + np.exp(-value))


def _bootstrap_rates(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, resamples: int) -> np.ndarray:
    """The rate at equal length refitted on `resamples` resamplings of the records (as multinomial weights)."""
    n, rates = len(x), []
    block = max(1, _BLOCK_CELLS // n)
    for start in range(0, resamples, block):
        weights = rng.multinomial(n, np.full(n, 1.0 / n), size=min(block, resamples - start)).astype(float)
        rates.append(_sigmoid(fit_logistic(x, y, weights)[0]))
    return np.concatenate(rates)


def _separation(x: np.ndarray, y: np.ndarray) -> str | None:
    """Why the rate at equal length cannot be estimated when the length ratio sorts the verdicts perfectly (no ties,
    every A win on one side of every B win): the fit's slope then runs off without end and any rate at equal length
    fits the verdicts as well as any other; None when it does not."""
    wins, losses = x[y == 1.0], x[y == 0.0]
    if (y == 0.5).any() or not len(wins) or not len(losses):
        return None
    decided = f"all {len(x)} decided prompts"
    if wins.min() > 0 > losses.max() or wins.max() < 0 < losses.min():
        which = "longer" if wins.min() > 0 else "shorter"
        return (f"the {which} answer won {decided}, so length alone accounts for the verdicts and how A would do at "
                "equal length cannot be estimated")
    if wins.min() > losses.max() or wins.max() < losses.min():
        return (f"the answers' length ratio sorts {decided} (A won every pair on one side of a ratio, B every pair "
                "on the other), so how A would do at equal length cannot be estimated")
    return None


def length_controlled(records: Sequence[dict], seed: int = 0, resamples: int = RESAMPLES,
                      level: float = LEVEL) -> LengthControlled:
    """A's length-controlled win rate over the decided records ("A", "B" or "tie"; others are left out)."""
    xs, ys, units = [], [], set()
    a_longer = b_longer = equal = 0
    for record in records:
        lengths = record_lengths(record)
        if record.get("winner") not in OUTCOME or lengths is None:
            continue
        len_a, len_b, unit = lengths
        units.add(unit)
        a_longer, b_longer, equal = a_longer + (len_a > len_b), b_longer + (len_b > len_a), equal + (len_a == len_b)
        xs.append(length_feature(len_a, len_b))
        ys.append(OUTCOME[record["winner"]])
    n = len(xs)
    unit = " and ".join(sorted(units, reverse=True)) or "tokens"
    raw = float(np.mean(ys)) if ys else None
    result = LengthControlled(None, None, None, raw, None, n, a_longer, b_longer, equal, unit, None, None)
    if n < MIN_DECIDED:
        result.reason = f"not enough data: {n} decided records with answer lengths, at least {MIN_DECIDED} needed"
        return result
    x, y = np.asarray(xs), np.asarray(ys)
    if np.ptp(x) < _FLAT and abs(x[0]) >= _FLAT:
        result.reason = ("not enough data: every pair of answers had the same length ratio, so length and model "
                         "cannot be told apart")
        return result
    if separated := _separation(x, y):
        result.reason = f"not enough data: {separated}"
        return result
    if np.ptp(y) == 0:  # one verdict throughout: nothing for length to explain, and a bootstrap would collapse
        result.rate, result.slope, result.interval = raw, 0.0, WILSON
        result.low, result.high = wilson_interval(raw * n, n, level)
        return result
    intercept, slope = fit_logistic(x, y, np.ones((1, n)))
    rates = _bootstrap_rates(x, y, np.random.default_rng(seed), resamples)
    result.low, result.high = percentile_bounds(rates, level)
    result.rate, result.slope, result.interval = float(_sigmoid(intercept[0])), float(slope[0]), BOOTSTRAP
    return result
