"""The length-controlled win rate (analysis/length_control.py) on constructed runs whose length effect is known:
verdicts drawn from a known logistic model, a judge that only rewards the longer answer, equal lengths, too few
records. Each case also checks that the raw win rate is far from the truth, so a fit that ignored length would fail."""
import math

import numpy as np
import pytest

from analysis.length_control import (
    BOOTSTRAP,
    MIN_DECIDED,
    SLOPE_PENALTY,
    WILSON,
    fit_logistic,
    length_controlled,
    length_feature,
    record_lengths,
)
from analysis.stats import wilson_interval


def record(winner, len_a, len_b, tokens=True):
    """A record with only what the model reads: the winner and each answer's length (tokens, else its text)."""
    answers = {side: {"text": "x" * n, "n_tokens": n if tokens else None} for side, n in (("A", len_a), ("B", len_b))}
    return {"winner": winner, "answers": answers}


def sigmoid(value):
    return 1 / (1 + math.exp(-value))


def drawn_run(n, intercept, slope, a_longer_share, seed):
    """n records whose verdicts follow P(A wins) = sigmoid(intercept + slope * length_feature), A's answer the
    longer with probability a_longer_share."""
    rng = np.random.default_rng(seed)
    records = []
    for _ in range(n):
        short = int(rng.integers(30, 300))
        long = int(short * math.exp(rng.uniform(0, 1.5)))  # up to 4.5 times as long, near-equal pairs included
        len_a, len_b = (long, short) if rng.random() < a_longer_share else (short, long)
        p = sigmoid(intercept + slope * length_feature(len_a, len_b))
        records.append(record("A" if rng.random() < p else "B", len_a, len_b))
    return records


@pytest.mark.parametrize("intercept, slope, a_longer_share", [
    (0.0, 3.0, 0.85),  # equal at equal length, but A's answers are usually longer: raw flatters A
    (1.0, 3.0, 0.15),  # A better at equal length (73%), but B's answers are usually longer: raw understates A
    (-0.8, -2.0, 0.2),  # a judge that prefers the shorter answer, B's usually the shorter: raw understates A
])
def test_the_intercept_of_a_known_logistic_model_is_recovered(intercept, slope, a_longer_share):
    truth = sigmoid(intercept)
    result = length_controlled(drawn_run(1500, intercept, slope, a_longer_share, seed=7), resamples=500)
    assert result.reason is None and result.interval == BOOTSTRAP and result.n == 1500
    assert abs(result.raw - truth) > 0.15  # the raw rate is far off: the test can tell a fit from no fit
    assert result.rate == pytest.approx(truth, abs=0.06)
    assert result.low <= truth <= result.high and result.high - result.low < 0.15
    assert result.slope == pytest.approx(slope, abs=0.8)


def test_a_judge_that_only_follows_length_is_near_half_at_equal_length():
    """P(A wins) = sigmoid(4 x): no preference between the models, a strong one for the longer answer, and A's answer
    the longer in 80% of pairs, so the raw rate is far above 50% and clear of it."""
    result = length_controlled(drawn_run(300, 0.0, 4.0, 0.8, seed=11))
    low, _ = wilson_interval(result.raw * result.n, result.n)
    assert result.raw > 0.68 and low > 0.6
    assert result.rate == pytest.approx(0.5, abs=0.1)
    assert result.low < 0.5 < result.high and result.slope > 2


def test_a_judge_that_always_picks_the_longer_answer_leaves_equal_length_unknown():
    """When the longer answer wins every time, any rate at equal length fits the verdicts equally well (the slope runs
    off without end): the honest answer is no number, not one the penalty made up."""
    rng = np.random.default_rng(3)
    records = []
    for i in range(40):
        short = int(rng.integers(20, 150))
        long = short + int(rng.integers(1, 300))
        records.append(record("A", long, short) if i % 4 else record("B", short, long))  # A's longer in 30 of 40
    result = length_controlled(records)
    assert result.raw == pytest.approx(0.75) and (result.a_longer, result.b_longer) == (30, 10)
    assert result.rate is None
    assert result.reason == ("not enough data: the longer answer won all 40 decided prompts, so length alone accounts "
                             "for the verdicts and how A would do at equal length cannot be estimated")
    records[0] = record("tie", 30, 90)  # one tie breaks the perfect sorting: a number again, near 50%
    assert length_controlled(records).rate == pytest.approx(0.5, abs=0.15)


def test_equal_lengths_give_the_raw_rate_with_ties_as_half_and_unknown_left_out():
    winners = ["A"] * 6 + ["B"] * 3 + ["tie"] * 3 + [None, "unknown"]
    result = length_controlled([record(w, 50 + i, 50 + i) for i, w in enumerate(winners)])
    assert result.n == 12 and result.equal == 12 and result.a_longer == result.b_longer == 0
    assert result.raw == pytest.approx(7.5 / 12)
    assert result.rate == pytest.approx(7.5 / 12, abs=1e-3)
    assert result.low < result.rate < result.high and result.slope == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("n", [0, 1, MIN_DECIDED - 1])
def test_too_few_decided_records_say_not_enough_data(n):
    records = [record("A" if i % 2 else "B", 10 + i, 40) for i in range(n)] + [record(None, 10, 90)] * 5
    result = length_controlled(records)
    assert result.rate is None and result.low is None and result.n == n
    assert result.reason == f"not enough data: {n} decided records with answer lengths, at least {MIN_DECIDED} needed"


def test_one_length_ratio_throughout_cannot_separate_length_from_the_model():
    records = [record("A" if i % 3 else "B", 20, 40) for i in range(12)]  # A half as long every time
    result = length_controlled(records)
    assert result.rate is None and result.reason.startswith("not enough data: every pair of answers had the same")


def test_one_verdict_throughout_is_the_raw_rate_with_wilson_s_interval():
    result = length_controlled([record("A", 10 + 7 * i, 60) for i in range(10)])
    assert result.rate == 1.0 and result.interval == WILSON
    assert result.high == 1.0 and 0.6 < result.low < 0.8  # not the 100%-100% a bootstrap would collapse to


def test_lengths_are_tokens_else_characters():
    assert record_lengths(record("A", 3, 5)) == (3.0, 5.0, "tokens")
    assert record_lengths(record("A", 3, 5, tokens=False)) == (3.0, 5.0, "characters")
    assert record_lengths({"winner": "A"}) is None
    odd = record("A", 3, 5)
    odd["answers"]["A"]["n_tokens"] = "many"  # not a count: both sides fall back to characters
    assert record_lengths(odd) == (3.0, 5.0, "characters")
    mixed = [record("A" if i % 2 else "B", 10 + i, 30, tokens=i < 5) for i in range(10)]
    assert length_controlled(mixed).unit == "tokens and characters"


def test_the_length_feature_is_bounded_symmetric_and_unit_free():
    assert length_feature(40, 40) == 0.0
    assert length_feature(80, 20) == pytest.approx(-length_feature(20, 80))
    assert length_feature(10 ** 6, 1) < 1 and length_feature(1, 10 ** 6) > -1
    assert length_feature(0, 0) == 0.0  # empty answers do not divide by zero


def test_the_fit_matches_a_hand_checked_optimum_and_the_bootstrap_is_deterministic():
    # Two groups at x = -1/2 and +1/2 with A winning 1/4 and 3/4 of each: the unpenalised optimum is intercept 0 and
    # slope 2 * log 3 (logit(3/4) - logit(1/4) over a gap of 1); the light penalty pulls the slope a little towards 0.
    x = np.array([-0.5] * 40 + [0.5] * 40)
    y = np.array([1.0] * 10 + [0.0] * 30 + [1.0] * 30 + [0.0] * 10)
    intercept, slope = fit_logistic(x, y, np.full((1, 80), 1000.0))  # weights that make the penalty negligible
    assert intercept[0] == pytest.approx(0.0, abs=1e-6) and slope[0] == pytest.approx(2 * math.log(3), abs=1e-3)
    intercept, slope = fit_logistic(x, y, np.ones((1, 80)))
    p = 1 / (1 + np.exp(-(intercept[0] + slope[0] * x)))  # the penalised optimum: its gradient is zero
    assert ((p - y) * x).sum() + SLOPE_PENALTY * slope[0] == pytest.approx(0.0, abs=1e-8)
    assert intercept[0] == pytest.approx(0.0, abs=1e-6) and 0 < slope[0] < 2 * math.log(3)
    records = drawn_run(60, 0.5, 2.0, 0.7, seed=1)
    assert length_controlled(records, seed=4) == length_controlled(records, seed=4)
    assert length_controlled(records, seed=4).low != length_controlled(records, seed=5).low
