"""analysis/judge_metrics.py against cases worked out by hand: each expected number is derived beside it."""
import json

import pytest

from analysis.judge_metrics import (
    PairOutcome,
    class_metrics,
    credit,
    kappa,
    length_balanced,
    pairwise_metrics,
    score_metrics,
)

FIVE = [
    # gold, predicted, len_a, len_b, order verdicts, stated probability, seconds
    PairOutcome("A", "A", 100, 50, {"AB": "A", "BA": "A"}, 0.9, 1.0),  # o1: right
    PairOutcome("B", "A", 40, 300, {"AB": "A", "BA": "B"}, 0.6, 2.0),  # o2: wrong; first slot both times
    PairOutcome("A", "tie", 200, 200, {"AB": "A", "BA": "B"}, None, 3.0),  # o3: half (a tie for a decided pair)
    PairOutcome("tie", "B", 10, 900, {"AB": "B", "BA": "B"}, 0.55),  # o4: half (a verdict for a tie)
    PairOutcome("B", None, 500, 100),  # o5: unparsed
]


def test_credit_counts_a_tie_against_a_verdict_as_half():
    assert [credit("A", "A"), credit("A", "B"), credit("A", "tie"), credit("tie", "B"), credit("tie", "tie"),
            credit("B", None)] == [1, 0, 0.5, 0.5, 1, 0]


def test_pairwise_metrics_by_hand():
    m = pairwise_metrics(FIVE)
    assert m["n"] == 5 and m["unparsed_share"] == pytest.approx(1 / 5)
    assert m["agreement"] == pytest.approx(0.4)  # (1 + 0 + 0.5 + 0.5 + 0) / 5
    low, high = m["agreement_ci"]
    assert 0 <= low <= 0.4 <= high <= 1
    assert m["agreement_without_ties"] == pytest.approx(0.5)  # gold and verdict both A/B: o1 right, o2 wrong
    # predicted rows (A,A) (B,A) (A,tie) (tie,B): po = 1/4; marginals gold A2 B1 tie1, predicted A2 tie1 B1:
    # pe = (2/4)(2/4) + (1/4)(1/4) + (1/4)(1/4) = 0.375; kappa = (0.25 - 0.375) / 0.625 = -0.2
    assert m["kappa"] == pytest.approx(-0.2)
    assert m["position_consistency"] == pytest.approx(0.5)  # both orders: o1 same, o2 differ, o3 differ, o4 same
    # decisive order verdicts: o1 A(first) A(second), o2 A(first) B(first), o3 A(first) B(first),
    # o4 B(second) B(first): 6 of 8 picked the answer shown first
    assert m["first_slot_share"] == pytest.approx(0.75)
    assert m["seconds_per_item"] == pytest.approx(1.2)  # (1 + 2 + 3 + 0 + 0) / 5


def test_length_balanced_subset_and_the_longer_wins_baseline():
    # decided pairs with unequal lengths: o1 and o2 won by the longer answer, o5 by the shorter: keep o1 and o5
    assert length_balanced(FIVE) == [FIVE[0], FIVE[4]]
    m = pairwise_metrics(FIVE)
    assert m["length_balanced_n"] == 2
    assert m["length_balanced_agreement"] == pytest.approx(0.5)  # o1 right (1), o5 unparsed (0)
    assert m["longest_baseline"] == pytest.approx(0.5)  # the longer answer is o1's A (right) and o5's A (wrong)


def test_agreement_by_length_gap_and_calibration_bins():
    m = pairwise_metrics(FIVE)
    # gaps: o1 50, o2 260, o3 0, o4 890, o5 400
    assert m["by_length_bucket"] == {"0-99": {"n": 2, "agreement": 0.75}, "100-299": {"n": 1, "agreement": 0.0},
                                     "300-699": {"n": 1, "agreement": 0.0}, "700+": {"n": 1, "agreement": 0.5}}
    bins = {(b["low"], b["high"]): b for b in m["calibration"]}
    assert bins[(0.5, 0.6)]["n"] == 1 and bins[(0.5, 0.6)]["observed"] == 0  # o4 at 0.55: B for a tie
    assert bins[(0.6, 0.7)]["n"] == 1 and bins[(0.6, 0.7)]["observed"] == 0  # o2 at 0.6: wrong
    assert bins[(0.9, 1.0)]["n"] == 1 and bins[(0.9, 1.0)]["observed"] == 1  # o1 at 0.9: right
    assert bins[(0.9, 1.0)]["mean_stated"] == pytest.approx(0.9) and bins[(0.0, 0.5)]["n"] == 0
    json.dumps(m)  # every value is plain JSON


def test_pairwise_metrics_edge_cases():
    empty = pairwise_metrics([])
    assert empty["n"] == 0 and empty["agreement"] is None and empty["kappa"] is None and empty["calibration"] == []
    unparsed = pairwise_metrics([PairOutcome("A", None, 1, 2), PairOutcome("B", None, 3, 1)])
    assert unparsed["agreement"] == 0 and unparsed["unparsed_share"] == 1 and unparsed["kappa"] is None
    assert unparsed["position_consistency"] is None and unparsed["first_slot_share"] is None
    assert kappa(["A", "A"], ["A", "A"]) is None  # one category only: undefined


def test_score_metrics_by_hand():
    m = score_metrics([1, 2, 3, 4, 5], [1, 3, 2, 4, None])
    assert m["n"] == 5 and m["unparsed_share"] == pytest.approx(0.2)
    # scored rows: gold 1 2 3 4 vs judge 1 3 2 4 (ranks themselves): d = 0 1 1 0, rho = 1 - 6*2 / (4*15) = 0.8
    assert m["spearman"] == pytest.approx(0.8) and m["pearson"] == pytest.approx(0.8)
    # pairs: 5 concordant, 1 discordant ((2,3) vs (3,2)): tau = (5 - 1) / 6
    assert m["kendall"] == pytest.approx(4 / 6)
    assert m["mean_absolute_error"] == pytest.approx(0.5)  # (0 + 1 + 1 + 0) / 4
    flat = score_metrics([1, 2, 3], [2, 2, 2])
    assert flat["pearson"] is None and flat["spearman"] is None  # a constant judge has no correlation


def test_class_metrics_by_hand():
    gold = ["a", "a", "b", "b", "c", "c"]
    m = class_metrics(gold, ["a", "b", "b", "b", "c", "a"], ["a", "b", "c"])
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["confusion_matrix"] == {"labels": ["a", "b", "c"], "matrix": [[1, 1, 0], [0, 2, 0], [1, 0, 1]]}
    a, b, c = (m["per_class"][k] for k in "abc")
    assert (a["precision"], a["recall"], a["f1"]) == pytest.approx((1 / 2, 1 / 2, 1 / 2))  # predicted a twice
    assert (b["precision"], b["recall"], b["f1"]) == pytest.approx((2 / 3, 1, 0.8))  # f1 = 2(2/3)(1)/(5/3)
    assert (c["precision"], c["recall"], c["f1"]) == pytest.approx((1, 1 / 2, 2 / 3))
    assert m["f1_macro"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert a["support"] == b["support"] == c["support"] == 2


def test_class_metrics_with_unparsed_and_missing_classes():
    m = class_metrics(["toxic", "non_toxic"], ["toxic", None], ["toxic", "non_toxic"])
    assert m["accuracy"] == 0.5 and m["unparsed_share"] == 0.5  # the unparsed row counts as wrong
    assert m["confusion_matrix"]["matrix"] == [[1, 0], [0, 0]]  # only the predicted row is in the matrix
    assert m["per_class"]["non_toxic"]["support"] == 0
    nothing = class_metrics(["toxic"], [None], ["toxic", "non_toxic"])
    assert nothing["f1_macro"] is None and nothing["per_class"] == {} and nothing["accuracy"] == 0
