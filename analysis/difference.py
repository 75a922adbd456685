"""Is the difference between A and B real? The paired difference in total score with its interval, and how many
prompts a paired t-test would need to detect the observed difference (80% power, 5% two-sided)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from statistics import NormalDist

import numpy as np

from analysis.stats import LEVEL, RESAMPLES, mean_with_ci

POWER = 0.8
ALPHA = 0.05
_MOST_PROMPTS = 1_000_000  # past this the search stops: "more than a million" says enough


@dataclass
class PairedDifference:
    """Mean of total A - total B over the records where both were scored, its bootstrap interval, and the
    spread of the differences; `prompts_needed` is the power calculation's estimate (see prompts_needed)."""

    mean: float | None
    low: float | None
    high: float | None
    n: int
    sd: float | None  # sample standard deviation of the per-prompt differences
    prompts_needed: int | None  # in all, to detect `mean` at POWER / ALPHA; None when it cannot be estimated

    @property
    def includes_no_change(self) -> bool | None:
        """True when the interval includes 0 (None without an interval)."""
        if self.low is None or self.high is None:
            return None
        return self.low <= 0 <= self.high

    def to_dict(self) -> dict:
        return asdict(self)


def paired_differences(records: Sequence[dict]) -> list[float]:
    """total A - total B for each record where both totals exist."""
    return [r["totals"]["A"] - r["totals"]["B"] for r in records
            if (r.get("totals") or {}).get("A") is not None and r["totals"].get("B") is not None]


def paired_power(effect: float, sd: float, n: int, alpha: float = ALPHA) -> float:
    """Power of a two-sided paired t-test on n prompts for a true mean difference `effect` with spread `sd`
    (the non-central t distribution, as G*Power and statsmodels compute it)."""
    # scipy.special's functions under scipy.stats' t and nct (the same numbers to 1e-16): importing scipy.stats took
    # ~0.6 s of every first compare (benchmarks/study_speed.py), scipy.special ~0.1 s.
    from scipy.special import nctdtr, stdtrit

    if n < 2:
        return 0.0
    df = n - 1
    critical = stdtrit(df, 1 - alpha / 2)
    shift = effect / sd * np.sqrt(n)
    return float(1 - nctdtr(df, shift, critical) + nctdtr(df, shift, -critical))


def prompts_needed(effect: float, sd: float, power: float = POWER, alpha: float = ALPHA) -> int | None:
    """The fewest prompts with which a paired t-test detects `effect` with `power` at `alpha` two-sided: an
    estimate, since it takes the observed difference and spread as the true ones. None when there is no effect
    (0) or no spread to estimate from."""
    if not effect or sd is None or not sd > 0:
        return None
    normal = NormalDist()
    # The normal approximation to start from, then the exact t-test power upwards (and downwards) from there.
    guess = int(np.ceil(((normal.inv_cdf(1 - alpha / 2) + normal.inv_cdf(power)) * sd / abs(effect)) ** 2))
    n = max(2, guess)
    if n >= _MOST_PROMPTS:
        return _MOST_PROMPTS
    while n > 2 and paired_power(effect, sd, n - 1, alpha) >= power:
        n -= 1
    while paired_power(effect, sd, n, alpha) < power and n < _MOST_PROMPTS:
        n += 1
    return n


def paired_difference(records: Sequence[dict], seed: int = 0, resamples: int = RESAMPLES,
                      level: float = LEVEL) -> PairedDifference:
    """The paired difference in total (A - B) with its percentile-bootstrap interval and the prompts needed."""
    differences = paired_differences(records)
    interval = mean_with_ci(differences, seed, resamples, level)
    sd = float(np.std(differences, ddof=1)) if len(differences) > 1 else None
    needed = prompts_needed(interval.mean, sd) if interval.mean is not None else None
    return PairedDifference(interval.mean, interval.low, interval.high, interval.n, sd, needed)
