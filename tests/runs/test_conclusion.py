"""The closing sentence of a run's summary (runs/conclusion.py) and the power calculation behind it
(analysis/difference.py): intervals, "no detectable difference", and how many more prompts would be needed."""
import pytest

from analysis.difference import paired_difference, paired_power, prompts_needed
from runs.conclusion import closing_lines, conclusion_sentence, cut_off_words, too_close_words
from runs.summary import summarize, with_new_fields

from run_builders import make_record


def run_of(pairs: list[tuple[tuple, tuple]]) -> list[dict]:
    """Records for (scores A, scores B) pairs, the winner by total as the single-mode judge decides it."""
    records = []
    for i, (a, b) in enumerate(pairs):
        winner = "A" if sum(a) > sum(b) else "B" if sum(b) > sum(a) else "tie"
        records.append(make_record(f"q{i}", "p1", a, b, winner))
    return records


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
    del old["stats"]["difference"]
    filled = with_new_fields(old, records)
    assert filled["too_close"] == 0 and filled["cut_off"] == {"A": 0, "B": 0}
    assert filled["stats"]["difference"] == paired_difference(records).to_dict()
    assert "difference" not in old["stats"]  # the summary read is not changed in place
