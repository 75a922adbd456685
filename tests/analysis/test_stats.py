"""analysis.stats, .ranking and .agreement against cases worked out by hand: each expected number is derived in the comment beside it."""
import json
import math

import pytest

from analysis.agreement import agreement_rate, cohen_kappa
from analysis.ranking import bradley_terry, bradley_terry_with_ci, comparisons_from_records
from analysis.stats import (
    Interval,
    average_ranks,
    criterion_summary,
    length_preference,
    length_stats,
    mean_with_ci,
    position_stats,
    spearman,
    summarize_run,
    summarize_scores,
    unparsed_counts,
    win_rate,
)
from judge.judging import JudgeCall, OrderVerdict, combine_orders


def make_record(winner="A", scores_a=None, scores_b=None, tokens=(10, 10), texts=("a", "b"), orders=None,
                mode="single", id="p1", model_a="m-a", model_b="m-b"):
    """A record shaped as runs/pipeline.py writes it; a side's scores=None means its reply was unparsed."""
    scores = {"A": scores_a, "B": scores_b}
    totals = {side: (None if s is None else sum(s.values())) for side, s in scores.items()}
    if mode == "single":
        judgement = {side: {"status": "unparsed" if s is None else "ok", "scores": s} for side, s in scores.items()}
        consistent = None
    else:
        judgement = {"orders": [{"order": o, "status": "unparsed" if v is None else "ok", "verdict": v}
                                for o, v in (orders or [])]}
        verdicts = [v for _, v in (orders or [])]
        consistent = None if None in verdicts or len(verdicts) < 2 else len(set(verdicts)) == 1
    status = "ok" if all(s is not None for s in scores.values()) else "unparsed"
    return {
        "id": id, "prompt": "q", "category": "", "reference": "", "model_a": model_a, "model_b": model_b,
        "judge": "j", "mode": mode,
        "answers": {"A": {"text": texts[0], "n_tokens": tokens[0]}, "B": {"text": texts[1], "n_tokens": tokens[1]}},
        "judgement": judgement, "status": status, "scores": scores, "totals": totals, "winner": winner,
        "consistent": consistent,
    }


def scores(relevance, coherence, completeness):
    return {"relevance": relevance, "coherence": coherence, "completeness": completeness}


def test_mean_with_ci_basic_cases():
    interval = mean_with_ci([1, 2, 3, 4])
    assert interval.mean == 2.5  # (1+2+3+4)/4
    assert interval.n == 4
    assert 1 <= interval.low <= 2.5 <= interval.high <= 4  # a resampled mean can never leave [min, max]
    assert mean_with_ci([]) == Interval(None, None, None, 0)
    assert mean_with_ci([3]) == Interval(3.0, 3.0, 3.0, 1)


def test_mean_with_ci_is_seeded_and_narrows_with_more_data():
    assert mean_with_ci([1, 2, 3, 4], seed=7) == mean_with_ci([1, 2, 3, 4], seed=7)
    small = mean_with_ci([1, 2, 3, 4])
    large = mean_with_ci([1, 2, 3, 4] * 25)  # same spread, 25x the data: the width shrinks ~5x
    assert large.mean == 2.5
    assert large.high - large.low < (small.high - small.low) / 2


def test_scores_exclude_unparsed_sides_but_count_them():
    records = [
        make_record(scores_a=scores(4, 3, 2), scores_b=scores(1, 1, 1)),
        make_record(scores_a=scores(2, 3, 4), scores_b=None, winner=None),
        make_record(scores_a=None, scores_b=scores(3, 3, 3), winner=None),
    ]
    assert unparsed_counts(records) == {"A": 1, "B": 1}
    summary = summarize_scores(records, resamples=200)
    # A: relevance (4+2)/2 = 3, completeness (2+4)/2 = 3, total (9+9)/2 = 9 over the 2 parsed records
    assert summary["A"]["relevance"].mean == 3.0 and summary["A"]["relevance"].n == 2
    assert summary["A"]["completeness"].mean == 3.0
    assert summary["A"]["total"].mean == 9.0 and summary["A"]["total"].n == 2
    # B: relevance (1+3)/2 = 2, total (3+9)/2 = 6
    assert summary["B"]["relevance"].mean == 2.0
    assert summary["B"]["total"].mean == 6.0
    assert criterion_summary(records, "B", "coherence").mean == 2.0  # (1+3)/2


def test_win_rate_counts_ties_as_half_and_reports_unknown():
    records = [make_record(winner=w) for w in ["A", "A", "B", "tie", None]]
    a = win_rate(records, "A")
    assert (a.wins, a.ties, a.losses, a.unknown) == (2, 1, 1, 1)
    assert a.rate == 0.625  # (2 + 0.5*1) / (2+1+1)
    assert 0 <= a.low <= a.rate <= a.high <= 1
    b = win_rate(records, "B")
    assert (b.wins, b.ties, b.losses, b.unknown) == (1, 1, 2, 1)
    assert b.rate == 0.375  # (1 + 0.5) / 4
    assert win_rate([make_record(winner=None)]).rate is None


def test_position_stats_on_crafted_pairwise_records():
    records = [
        # consistent: AB picked A (first shown), BA picked A (B was shown first: second slot)
        make_record(mode="pairwise", orders=[("AB", "A"), ("BA", "A")]),
        # inconsistent: AB picked A (first shown), BA picked B (first shown)
        make_record(mode="pairwise", orders=[("AB", "A"), ("BA", "B")], winner="tie"),
        # BA pass unparsed: excluded from both rates
        make_record(mode="pairwise", orders=[("AB", "B"), ("BA", None)], winner=None),
        # a tie verdict counts for consistency but not for first-slot preference
        make_record(mode="pairwise", orders=[("AB", "tie"), ("BA", "B")], winner="tie"),
        make_record(),  # single mode: no orders, ignored
    ]
    stats = position_stats(records)
    assert stats.n == 3
    assert stats.consistency_rate == pytest.approx(1 / 3)  # only the first of the 3 usable records agrees
    # non-tie order verdicts: A@AB (first), A@BA (second), A@AB (first), B@BA (first), B@BA (first) -> 4 of 5
    assert stats.n_decisive == 5
    assert stats.first_slot_preference == pytest.approx(4 / 5)


def test_position_stats_brief_example():
    records = [
        make_record(mode="pairwise", orders=[("AB", "A"), ("BA", "A")]),
        make_record(mode="pairwise", orders=[("AB", "A"), ("BA", "B")], winner="tie"),
        make_record(mode="pairwise", orders=[("AB", "A"), ("BA", None)], winner=None),
    ]
    stats = position_stats(records)
    assert stats.n == 2 and stats.consistency_rate == 0.5  # 1 consistent of 2 usable
    assert stats.first_slot_preference == 0.75  # first-slot picks: AB:A, AB:A, BA:B = 3 of 4 verdicts
    assert position_stats([]).first_slot_preference is None


def test_position_stats_reads_judgements_as_judging_writes_them():
    s = scores(3, 3, 3)
    # the judge said "first answer" both times: A in the AB pass, B in the BA pass (already mapped back)
    orders = [OrderVerdict("AB", "ok", "A", s, s, "", JudgeCall("ok")),
              OrderVerdict("BA", "ok", "B", s, s, "", JudgeCall("ok"))]
    record = make_record(mode="pairwise", winner="tie")
    record["judgement"] = json.loads(json.dumps(combine_orders(orders).to_dict()))
    stats = position_stats([record])
    assert (stats.n, stats.consistency_rate, stats.first_slot_preference) == (1, 0.0, 1.0)


def test_average_ranks_and_spearman_with_ties():
    assert average_ranks([10, 20, 20, 30]).tolist() == [1, 2.5, 2.5, 4]
    assert average_ranks([3, 1, 3, 3]).tolist() == [3, 1, 3, 3]  # the three 3s share ranks 2,3,4 -> 3
    # x ranks [1, 2.5, 2.5, 4], y ranks [1, 3, 2, 4]; both have mean 2.5
    # dx = [-1.5, 0, 0, 1.5], dy = [-1.5, 0.5, -0.5, 1.5]
    # sum dx*dy = 2.25 + 2.25 = 4.5; sum dx^2 = 4.5; sum dy^2 = 5 -> rho = 4.5 / sqrt(4.5*5) = sqrt(0.9)
    assert spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(math.sqrt(0.9))
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2], [1, 2]) is None  # fewer than 3 pairs
    assert spearman([1, 1, 1], [1, 2, 3]) is None  # zero variance


def test_length_preference_share_and_spearman():
    records = [
        make_record(winner="A", tokens=(20, 10)),  # longer (A) wins
        make_record(winner="B", tokens=(20, 10)),  # shorter wins
        make_record(winner="B", tokens=(5, 30)),  # longer (B) wins
        make_record(winner="A", tokens=(10, 10)),  # equal lengths: skipped
        make_record(winner="tie", tokens=(30, 10)),  # tie: skipped
        make_record(winner=None, tokens=(30, 10)),  # unknown: skipped
    ]
    preference = length_preference(records)
    assert (preference.longer_wins, preference.decisive) == (2, 3)
    assert preference.share_longer_wins == pytest.approx(2 / 3)
    # token gaps len_A - len_B = [1, 2, 2, 3], score gaps total_A - total_B = [1, 3, 2, 4] -> sqrt(0.9) as above
    gaps = [(11, 1), (12, 3), (12, 2), (13, 4)]
    records = [make_record(tokens=(t, 10), scores_a=scores(2, 2, 2 + d), scores_b=scores(2, 2, 2)) for t, d in gaps]
    preference = length_preference(records)
    assert preference.n_pairs == 4
    assert preference.spearman == pytest.approx(math.sqrt(0.9))


def test_length_stats_per_side():
    records = [make_record(tokens=(10, 1), texts=("ab", "x")), make_record(tokens=(20, 3), texts=("abcd", "y")),
               make_record(tokens=(60, 5), texts=("abcdef", "z"))]
    stats = length_stats(records)
    assert stats.A.mean_tokens == 30 and stats.A.median_tokens == 20  # (10+20+60)/3; middle of 10, 20, 60
    assert stats.A.mean_chars == 4 and stats.A.median_chars == 4  # lengths 2, 4, 6
    assert stats.B.mean_tokens == 3 and stats.B.mean_chars == 1  # (1+3+5)/3; every text 1 char


def test_bradley_terry_two_models_by_hand():
    # With prior 0, A beats B 3-1: the MLE has p_A/p_B = 3; geometric mean 1 -> p_A = sqrt(3), p_B = 1/sqrt(3)
    fit = bradley_terry([("A", "B")] * 3 + [("B", "A")], prior=0)
    assert fit.strengths["A"] == pytest.approx(math.sqrt(3)) and fit.strengths["B"] == pytest.approx(1 / math.sqrt(3))
    assert fit.log_strengths["A"] == pytest.approx(math.log(3) / 2)
    # B never wins 4-0; the 0.5 prior makes it 4.5 vs 0.5 -> ratio 9 -> p_A = 3, p_B = 1/3 (not 0)
    fit = bradley_terry([("A", "B")] * 4)
    assert fit.strengths["A"] == pytest.approx(3) and fit.strengths["B"] == pytest.approx(1 / 3)
    # ties are half a win each way: A 1 + 0.5, B 0.5 (prior 0) -> ratio 3
    fit = bradley_terry([("A", "B"), ("A", "B", "tie")], prior=0)
    assert fit.strengths["A"] / fit.strengths["B"] == pytest.approx(3)


def test_bradley_terry_round_robin_order_and_fit_equations():
    comparisons = ([("A", "B")] * 3 + [("B", "A")] + [("B", "C")] * 3 + [("C", "B")] + [("A", "C")] * 4)
    fit = bradley_terry(comparisons, prior=0.5)
    p = fit.strengths
    assert p["A"] > p["B"] > p["C"] > 0
    assert math.prod(p.values()) == pytest.approx(1.0)  # geometric mean 1
    # At the fit, expected wins equal (prior-augmented) observed wins: A 3.5 + 4.5 = 8, B 1.5 + 3.5 = 5
    games = {("A", "B"): 5, ("B", "C"): 5, ("A", "C"): 5}  # 4 real + 1 virtual game per pair
    expected = {m: sum(n * p[m] / (p[a] + p[b]) for (a, b), n in games.items() if m in (a, b)) for m in p}
    assert expected["A"] == pytest.approx(8) and expected["B"] == pytest.approx(5)
    assert expected["C"] == pytest.approx(2)  # 1.5 + 0.5


def test_bradley_terry_symmetric_case_is_all_equal():
    # a cycle A>B>C>A plus one tie per pair: every model has the same record
    comparisons = [("A", "B"), ("B", "C"), ("C", "A"), ("A", "B", "tie"), ("B", "C", "tie"), ("C", "A", "tie")]
    fit = bradley_terry(comparisons)
    for name in "ABC":
        assert fit.strengths[name] == pytest.approx(1.0, abs=1e-6)
        assert fit.log_strengths[name] == pytest.approx(0.0, abs=1e-6)
    assert bradley_terry([]).strengths == {}
    with pytest.raises(ValueError):
        bradley_terry([("A", "A")])


def test_bradley_terry_with_ci_ranking_and_determinism():
    comparisons = ([("A", "B")] * 3 + [("B", "A")] + [("B", "C")] * 3 + [("C", "B")] + [("A", "C")] * 4
                   + [("A", "C", "tie")])
    result = bradley_terry_with_ci(comparisons, seed=1, resamples=200)
    assert result.ranking == ["A", "B", "C"]
    for score in result.models.values():
        assert score.low <= score.score <= score.high
    assert result == bradley_terry_with_ci(comparisons, seed=1, resamples=200)


def test_comparisons_from_records():
    records = [make_record(winner="A"), make_record(winner="B"), make_record(winner="tie"), make_record(winner=None)]
    assert comparisons_from_records(records) == [("m-a", "m-b"), ("m-b", "m-a"), ("m-a", "m-b", "tie")]


def test_cohen_kappa_classic_two_by_two():
    # 50 items: both yes 20, both no 15, a yes / b no 5, a no / b yes 10
    a = ["yes"] * 20 + ["no"] * 15 + ["yes"] * 5 + ["no"] * 10
    b = ["yes"] * 20 + ["no"] * 15 + ["no"] * 5 + ["yes"] * 10
    # po = (20+15)/50 = 0.7; a says yes 25/50, b says yes 30/50
    # pe = 0.5*0.6 + 0.5*0.4 = 0.5; kappa = (0.7-0.5)/(1-0.5) = 0.4
    assert agreement_rate(a, b) == pytest.approx(0.7)
    assert cohen_kappa(a, b) == pytest.approx(0.4)


def test_cohen_kappa_edge_cases():
    assert cohen_kappa(["A"] * 4, ["A"] * 4) is None  # pe = 1: undefined
    assert agreement_rate(["A"] * 4, ["A"] * 4) == 1.0
    assert cohen_kappa(["A", "B", "tie"], ["A", "B", "tie"]) == pytest.approx(1.0)
    assert cohen_kappa(["A", None, "B"], ["A", "B", None]) is None  # only one usable pair, both "A": pe = 1
    assert cohen_kappa([], []) is None
    with pytest.raises(ValueError):
        cohen_kappa(["A"], [])


def test_summarize_run_is_json_ready():
    records = [
        make_record(winner="A", scores_a=scores(4, 4, 4), scores_b=scores(2, 2, 2), tokens=(30, 10)),
        make_record(winner="tie", scores_a=scores(3, 3, 3), scores_b=scores(3, 3, 3), mode="pairwise",
                    orders=[("AB", "A"), ("BA", "B")]),
        make_record(winner=None, scores_a=None, scores_b=scores(1, 2, 3)),
    ]
    summary = json.loads(json.dumps(summarize_run(records, resamples=100)))
    assert summary["n"] == 3
    assert summary["unparsed"] == {"A": 1, "B": 0}
    assert summary["scores"]["A"]["total"]["mean"] == 10.5  # (12 + 9) / 2
    assert summary["win_rate"]["rate"] == 0.75  # (1 + 0.5) / 2
    assert summary["position"]["consistency_rate"] == 0.0
    assert summary["length"]["A"]["mean_tokens"] == pytest.approx(50 / 3)  # (30 + 10 + 10) / 3
