"""The closing sentence of a run's summary (runs/conclusion.py) and the power calculation behind it
(analysis/difference.py): intervals, "no detectable difference", and how many more prompts would be needed."""
import pytest

from analysis.difference import paired_difference, paired_power, prompts_needed
from analysis.length_control import BOOTSTRAP, length_controlled
from runs.conclusion import (
    BETTER,
    FEW,
    band_words,
    closing_lines,
    conclusion_sentence,
    cut_off_words,
    difference_verdict,
    length_controlled_words,
    too_close_words,
)
from runs.summary import summarize, with_new_fields

from run_builders import make_record


def run_of(pairs: list[tuple[tuple, tuple]]) -> list[dict]:
    """Records for (scores A, scores B) pairs, the winner by total as the single-mode judge decides it."""
    records = []
    for i, (a, b) in enumerate(pairs):
        winner = "A" if sum(a) > sum(b) else "B" if sum(b) > sum(a) else "tie"
        records.append(make_record(f"q{i}", "p1", a, b, winner))
    return records


def run_with_lengths(rows: list[tuple[str, int, int]]) -> list[dict]:
    """Records for (winner, A's tokens, B's tokens) rows, the winner 12 to 6 on totals."""
    records = []
    for i, (winner, len_a, len_b) in enumerate(rows):
        a, b = ((4, 4, 4), (2, 2, 2)) if winner == "A" else ((2, 2, 2), (4, 4, 4))
        record = make_record(f"q{i}", "p1", a, b, winner)
        record["answers"]["A"]["n_tokens"], record["answers"]["B"]["n_tokens"] = len_a, len_b
        records.append(record)
    return records


# A wins 14 of the 18 pairs where its answer is the longer, and 2 of the 6 where B's is: 67% raw, much of it length.
LENGTHY = ([("A", 200 + 10 * i, 60 + 5 * i) for i in range(14)] + [("B", 180 + 10 * i, 70 + 3 * i) for i in range(4)]
           + [("B", 50 + 4 * i, 190 + 9 * i) for i in range(4)] + [("A", 60 + 4 * i, 150 + 9 * i) for i in range(2)])


@pytest.mark.parametrize("effect, needed", [(0.2, 199), (0.5, 34), (0.8, 15)])
def test_prompts_needed_matches_the_published_paired_t_test_sample_sizes(effect, needed):
    """G*Power's 'matched pairs' sizes for d_z = 0.2 / 0.5 / 0.8 at 80% power, 5% two-sided."""
    assert prompts_needed(effect, 1.0) == needed
    assert paired_power(effect, 1.0, needed) >= 0.8 > paired_power(effect, 1.0, needed - 1)
    assert prompts_needed(-effect, 1.0) == needed  # a difference for B needs as many
    assert prompts_needed(0.0, 1.0) is None and prompts_needed(0.5, 0.0) is None


def test_an_interval_including_no_change_reads_no_detectable_difference_with_the_prompts_needed():
    # A leads by a point on 4 prompts, B on 3, equal on 3: a small mean difference with a wide interval.
    pairs = [((3, 3, 3), (3, 3, 2))] * 4 + [((3, 3, 2), (3, 3, 3))] * 3 + [((3, 3, 3), (3, 3, 3))] * 3
    records = run_of(pairs)
    summary = summarize(records)
    diff = summary["stats"]["difference"]
    assert diff["n"] == 10 and diff["mean"] == pytest.approx(0.1) and diff["low"] < 0 < diff["high"]
    needed = prompts_needed(diff["mean"], diff["sd"])
    assert diff["prompts_needed"] == needed and needed > 10
    sentence = conclusion_sentence(summary, 12)
    assert sentence.startswith("No detectable difference between A and B: A won ")
    assert "ties counted half" in sentence and "an interval that includes no change" in sentence
    assert f"an estimated {needed - 10:,} more prompts would be needed ({needed:,} in all; 80% power, 5% " \
           "two-sided; an estimate" in sentence
    assert f"{diff['low']:+.2f} to {diff['high']:+.2f} of 12, over 10 prompts" in sentence


def test_a_clear_difference_names_the_better_model_with_both_intervals():
    pairs = [((4, 4, 3), (2, 2, 2))] * 6 + [((4, 3, 3), (3, 2, 2))] * 4
    summary = summarize(run_of(pairs))
    sentence = conclusion_sentence(summary, 12)
    assert sentence.startswith("A is better: A won 100% of the decided prompts")
    assert "higher than B's on average" in sentence and "no detectable" not in sentence
    flipped = summarize(run_of([(b, a) for a, b in pairs]))
    assert conclusion_sentence(flipped, 12).startswith("B is better: A won 0% of the decided prompts")


def test_a_higher_mean_without_a_winning_rate_is_not_called_better():
    # A wins big twice and loses narrowly three times: a mean lead, but not on most prompts.
    pairs = [((4, 4, 4), (1, 1, 1))] * 4 + [((3, 3, 2), (3, 3, 3))] * 4
    summary = summarize(run_of(pairs))
    diff, rate = summary["stats"]["difference"], summary["stats"]["win_rate"]
    assert diff["low"] > 0 and rate["low"] <= 0.5 <= rate["high"]
    assert conclusion_sentence(summary, 12).startswith("A scored higher on average, but not on most prompts")


def test_too_few_prompts_and_equal_totals_say_so():
    few = summarize(run_of([((3, 3, 3), (3, 3, 2)), ((3, 3, 2), (3, 3, 3))]))
    assert conclusion_sentence(few, 12).startswith("Too few prompts with both answers scored (2)")
    equal = summarize(run_of([((3, 3, 3), (3, 3, 2)), ((3, 3, 2), (3, 3, 3))] * 3))
    sentence = conclusion_sentence(equal, 12)
    assert sentence.startswith("No detectable difference") and "totals were equal on average" in sentence


def test_ties_too_close_to_call_and_cut_off_answers_are_counted_and_said():
    records = run_of([((3, 3, 3), (3, 3, 3))] * 5)
    records[0]["margin"] = {"basis": "probability", "p_a_better": 0.52, "gap": 0.03, "band": 0.05, "ahead": "A",
                            "too_close": True}
    records[1]["sampling"] = {"max_new_tokens": 16}
    records[1]["answers"]["A"].update(n_tokens=16, finish_reason="length")
    records[2]["sampling"] = {"max_new_tokens": 16}
    records[2]["answers"]["B"].update(n_tokens=16, finish_reason="stop")  # as long as the limit, but finished
    summary = summarize(records)
    assert summary["too_close"] == 1 and summary["cut_off"] == {"A": 1, "B": 0} and summary["max_new_tokens"] == [16]
    assert too_close_words(summary, 0.05).startswith("1 of the 5 ties were too close to call (tie band 0.05: "
                                                     "P(A better) within 45%-55%")
    assert cut_off_words(summary).startswith("1 of A's and 0 of B's 5 answers were cut off at 16 tokens")
    lines = closing_lines(summary, 12, 0.05)
    assert lines[0].startswith("summary: 5 records: A won 0, B won 0, 5 ties") and "mean total (of 12)" in lines[0]
    assert lines[1].startswith("note: 1 of the 5 ties") and lines[2].startswith("note: 1 of A's")
    assert lines[-1].startswith("conclusion: Too few prompts") is False and lines[-1].startswith("conclusion: ")


def test_a_summary_from_before_the_new_fields_gets_them_from_its_records():
    records = run_of([((3, 3, 3), (3, 3, 2))] * 6)
    old = summarize(records)
    for key in ("too_close", "cut_off", "max_new_tokens"):
        del old[key]
    del old["stats"]["difference"], old["stats"]["length_controlled"]
    filled = with_new_fields(old, records)
    assert filled["too_close"] == 0 and filled["cut_off"] == {"A": 0, "B": 0}
    assert filled["stats"]["difference"] == paired_difference(records).to_dict()
    assert filled["stats"]["length_controlled"] == length_controlled(records).to_dict()
    assert "difference" not in old["stats"]  # the summary read is not changed in place


def test_the_length_controlled_rate_says_how_much_of_a_lead_is_length():
    summary = summarize(run_with_lengths(LENGTHY))
    lc = summary["stats"]["length_controlled"]
    assert lc == length_controlled(run_with_lengths(LENGTHY)).to_dict() and lc["raw"] == pytest.approx(16 / 24)
    assert lc["slope"] > 0 and lc["rate"] < lc["raw"] - 0.03  # the judge leans to the longer answer, A's mostly
    words = length_controlled_words(summary)
    assert words.startswith(f"at equal length A would win {lc['rate']:.0%} of the decided prompts (95% interval "
                            f"{lc['low']:.0%}-{lc['high']:.0%}, bootstrap over records; a logistic model")
    assert words.endswith("against 67% raw; the raw 67% owes part of A's lead to A's longer answers (the judge leans "
                          "toward the longer answer)")
    lines = closing_lines(summary, 12, 0.05)
    assert lines[-2] == f"length-controlled win rate of A: {words}" and lines[-1].startswith("conclusion: ")
    flipped = summarize(run_with_lengths([("B" if w == "A" else "A", b, a) for w, a, b in LENGTHY]))
    assert length_controlled_words(flipped).endswith("against 33% raw; the raw 33% owes part of B's lead to B's "
                                                     "longer answers (the judge leans toward the longer answer)")


def test_without_enough_data_the_length_controlled_rate_says_so_instead_of_a_number():
    few = summarize(run_of([((3, 3, 3), (3, 3, 2))] * 4 + [((3, 3, 2), (3, 3, 3))] * 3))
    assert closing_lines(few, 12, 0.05)[-2] == ("length-controlled win rate of A: not enough data: 7 decided records "
                                                "with answer lengths, at least 8 needed")
    one_ratio = summarize(run_of([((3, 3, 3), (3, 3, 2))] * 6 + [((3, 3, 2), (3, 3, 3))] * 4))  # 5 and 8 tokens
    assert length_controlled_words(one_ratio).startswith("not enough data: every pair of answers had the same length "
                                                         "ratio")
    equal = run_with_lengths([(w, 40 + i, 40 + i) for i, w in enumerate("AAAAAABBBB")])
    words = length_controlled_words(summarize(equal))
    assert words.startswith("at equal length A would win 60% of the decided prompts") and words.endswith(
        "against 60% raw; every pair of answers was equally long, so it is the raw rate")


@pytest.mark.parametrize("changes, ending", [
    ({}, "; with length held equal the interval includes 50%: no clear winner once length is accounted for"),
    ({"a_longer": 100, "b_longer": 0, "low": 0.51}, "; A's answer was the longer in every pair, so equal length lies "
                                                    "outside the data and the figure leans on the model"),
    ({"rate": 0.69, "low": 0.6, "high": 0.78}, "holding length equal changes little: length does not explain the "
                                               "result"),
])
def test_the_length_controlled_words_warn_where_the_rate_rests_on_the_model(changes, ending):
    lc = {"rate": 0.52, "low": 0.4, "high": 0.65, "raw": 0.7, "slope": 3.0, "n": 100, "a_longer": 80, "b_longer": 20,
          "equal": 0, "unit": "tokens", "interval": BOOTSTRAP, "reason": None, **changes}
    summary = {"stats": {"win_rate": {"rate": 0.7, "low": 0.6, "high": 0.78}, "length_controlled": lc}}
    assert length_controlled_words(summary).endswith(ending)


def verdict_only(records: list[dict]) -> list[dict]:
    """The same records as a verdict-only judge writes them (Prometheus 2's relative grading): winners, no scores."""
    for record in records:
        record.update(rubric={"criteria": [], "scale": [1, 5]}, scores={"A": {}, "B": {}},
                      totals={"A": None, "B": None})
    return records


def test_a_verdict_only_run_concludes_on_the_win_rate_and_says_why_there_is_no_difference_in_totals():
    pairs = [((4, 4, 3), (2, 2, 2))] * 6 + [((4, 3, 3), (3, 2, 2))] * 4
    flipped = summarize(verdict_only(run_of([(b, a) for a, b in pairs])))
    assert flipped["stats"]["difference"]["n"] == 0 and flipped["rubric"]["criteria"] == []
    assert difference_verdict(flipped, scored=False) == (BETTER, "B") and difference_verdict(flipped)[0] == FEW
    assert conclusion_sentence(flipped, 0, scored=False) == (
        "B is better: A won 0% of the 10 decided prompts (95% interval 0%-28%, ties counted half), an interval that "
        "excludes 50%; the judge names the better answer and gives no scores, so no paired difference in totals can "
        "be given.")
    even = summarize(verdict_only(run_of([((4, 4, 4), (2, 2, 2)), ((2, 2, 2), (4, 4, 4))] * 3)))
    assert conclusion_sentence(even, 0, scored=False).startswith(
        "No detectable difference between A and B: A won 50% of the 6 decided prompts (95% interval 19%-81%, ties "
        "counted half), an interval that includes 50%; the judge names the better answer and gives no scores")
    few = summarize(verdict_only(run_of([((4, 4, 4), (2, 2, 2))] * 4)))
    assert difference_verdict(few, scored=False) == (FEW, None)
    lines = closing_lines(few, 0, 0.05, scored=False)
    assert lines[0] == ("summary: 4 records: A won 4, B won 0, 0 ties, 0 without a verdict; no scores: the judge "
                        "names the better answer")
    assert lines[-1] == ("conclusion: Too few decided prompts (4) for an interval on A's win rate, so whether A or B "
                         "is better cannot be told yet: run a prompt set of at least 5; the judge names the better "
                         "answer and gives no scores, so no paired difference in totals can be given.")
    assert not any("of 0" in line or "scored (0)" in line or "mean total" in line for line in lines)
    assert band_words(0.05, scored=False) == "tie band 0.05: P(A better) within 45%-55%"  # no totals to be close


def test_the_length_controlled_rate_needs_only_winners_and_lengths():
    scored = summarize(run_with_lengths(LENGTHY))
    unscored = summarize(verdict_only(run_with_lengths(LENGTHY)))
    assert unscored["stats"]["length_controlled"] == scored["stats"]["length_controlled"]
    assert unscored["stats"]["length_controlled"]["rate"] is not None
    lines = closing_lines(unscored, 0, 0.05, scored=False)
    assert lines[-2] == f"length-controlled win rate of A: {length_controlled_words(scored)}"
    assert lines[-1].startswith("conclusion: No detectable difference between A and B: A won 67% of the 24 decided")
