"""How close a verdict was, and the band of no difference inside which a judge's favourite is too close to call.

A scoring judge (a reward head; a reward model, from its raw rewards: sigmoid(r_A - r_B)) and a probabilities judge
say how likely A is the better answer: P(A better) near 0.5 is no difference, however far apart the totals' second
decimals are. Scores parsed from a written reply move in whole steps of the scale, so a gap below one step (a panel's
mean of such scores) is no difference either. A pairwise verdict the judge wrote itself ([[A]]) is its own call and
has no margin here.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from judge.rewards import recorded_rewards, reward_p_better

DEFAULT_TIE_BAND = 0.05  # P(A better) within 0.45-0.55 is too close to call
SCALE_STEP = 1.0  # a rubric's scale moves in whole points: a written score cannot tell a smaller difference
PROBABILITY, GAP = "probability", "gap"
_EDGE = 1e-4  # a head's score at its scale's very end still has a finite logit


@dataclass
class Margin:
    """How far apart the judge put A and B, on the basis its method gives."""

    basis: str  # PROBABILITY (P(A better) from the judge's probabilities or a scoring head) or GAP (parsed scores)
    p_a_better: float | None  # PROBABILITY: how likely A is the better answer (0.5 = no difference)
    gap: float | None  # total A - total B
    band: float  # PROBABILITY: the half-width around 0.5 that is no difference; GAP: the smallest gap that counts
    ahead: str | None  # whom the judge favoured before the band: "A", "B", or None (it called a tie or nothing)
    too_close: bool  # ahead, but inside the band: the verdict is a tie

    def to_dict(self) -> dict:
        data = asdict(self)
        data["p_a_better"] = None if self.p_a_better is None else round(self.p_a_better, 4)
        data["gap"] = None if self.gap is None else round(self.gap, 4)
        return data


def check_band(band: float) -> float:
    """The band, checked: 0 (off: any lead wins) up to but not including 0.5 (every verdict a tie)."""
    if not isinstance(band, int | float) or isinstance(band, bool) or not 0 <= band < 0.5:
        raise ValueError(f"the tie band must be a number from 0 (off) to below 0.5, got {band!r}: 0.05 calls "
                         "P(A better) within 45%-55% too close to call")
    return float(band)


def _logit(score: float, low: float, high: float) -> float:
    share = min(max((score - low) / (high - low), _EDGE), 1 - _EDGE)
    return math.log(share / (1 - share))


def head_p_better(scores_a: dict, scores_b: dict, scale: Sequence[float]) -> float:
    """P(A better) from a scoring head's scores: each criterion's score is low + (high - low) * sigmoid(s) and the
    head was fit as Bradley-Terry, so P(A better on it) = sigmoid(s_A - s_B); averaged over the criteria."""
    low, high = scale
    shares = [1 / (1 + math.exp(_logit(scores_b[c], low, high) - _logit(scores_a[c], low, high)))
              for c in scores_a]
    return sum(shares) / len(shares)


def total_distribution(readings: list[dict], criteria: Sequence[str]) -> dict[float, float] | None:
    """The distribution of a total score from a probabilities judge's readings (its probability of each allowed
    score, per criterion), the criteria taken as independent; None when a criterion has no numeric reading."""
    from judge.weighted import ChoiceReading, FormatReading

    try:
        found = FormatReading([ChoiceReading(**r) for r in readings], "")
    except TypeError:  # a reading saved in another shape
        return None
    total = {0.0: 1.0}
    for criterion in criteria:
        reading = found.for_criterion(criterion)
        if reading is None:
            return None
        try:
            values = [float(option) for option in reading.options]
        except ValueError:
            return None
        step: dict[float, float] = {}
        for so_far, p in total.items():
            for value, q in zip(values, reading.probabilities):
                if q > 0:
                    step[so_far + value] = step.get(so_far + value, 0.0) + p * q
        total = step
    return total


def distribution_p_better(total_a: dict[float, float], total_b: dict[float, float]) -> float:
    """P(T_A > T_B) + half of P(T_A = T_B), for independent totals."""
    mass = sum(total_a.values()) * sum(total_b.values())
    above = sum(p * q for a, p in total_a.items() for b, q in total_b.items() if a > b)
    equal = sum(p * q for a, p in total_a.items() for b, q in total_b.items() if a == b)
    return (above + equal / 2) / mass if mass > 0 else 0.5


def pairwise_p_better(probabilities: dict) -> float:
    """P(A better) from a pairwise judge's P(A), P(B), P(tie): a tie counts half to each."""
    mass = sum(probabilities.get(k) or 0.0 for k in ("A", "B", "tie"))
    return ((probabilities.get("A") or 0.0) + (probabilities.get("tie") or 0.0) / 2) / mass if mass > 0 else 0.5


def p_better(fields: dict, criteria: Sequence[str], scale: Sequence[float]) -> float | None:
    """P(A better) for one judge's verdict fields (method, mode, scores, judgement), where its method gives one."""
    method, scores, judgement = fields.get("method"), fields.get("scores") or {}, fields.get("judgement") or {}
    if scores.get("A") is None or scores.get("B") is None:
        return None
    if method == "head":
        rewards = recorded_rewards(judgement)  # a reward model: sigmoid(r_A - r_B), never read back off the scale
        return reward_p_better(*rewards) if rewards else head_p_better(scores["A"], scores["B"], scale)
    if method != "probabilities":
        return None
    if fields.get("mode") == "pairwise":
        return pairwise_p_better(judgement["probabilities"]) if judgement.get("probabilities") else None
    totals = [total_distribution((judgement.get(side) or {}).get("readings") or [], criteria) for side in "AB"]
    return None if None in totals else distribution_p_better(*totals)


def verdict_margin(fields: dict, criteria: Sequence[str], scale: Sequence[float], band: float,
                   p_a_better: float | None = None) -> Margin | None:
    """The margin of a verdict: on P(A better) where the judge gives one (or `p_a_better` is given, e.g. a panel's
    mean), else on the totals' gap for scores a judge wrote, in whole steps; None for a written pairwise verdict
    or a record without both totals (but for a verdict-only judge's P(A better): its gap is None). `too_close` only
    with a band above 0."""
    totals, winner = fields.get("totals") or {}, fields.get("winner")
    scored = totals.get("A") is not None and totals.get("B") is not None
    unscored = (fields.get("scores") or {}).get("A") == {} == (fields.get("scores") or {}).get("B")
    if not scored and not unscored:
        return None
    gap = totals["A"] - totals["B"] if scored else None
    ahead = winner if winner in ("A", "B") else None
    p = p_a_better if p_a_better is not None else p_better(fields, criteria, scale)
    if p is not None:
        return Margin(PROBABILITY, p, gap, band, ahead, bool(ahead and band > 0 and abs(p - 0.5) < band))
    if gap is None or fields.get("mode") == "pairwise":
        return None  # the judge wrote its verdict: no scores-based margin overrides it
    return Margin(GAP, None, gap, SCALE_STEP, ahead, bool(ahead and band > 0 and abs(gap) < SCALE_STEP))
