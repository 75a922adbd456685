"""The band of no difference (analysis/margins.py, applied by runs/verdicts.with_band): a judge's favourite inside it
is "too close to call" and a tie; outside it, or with the band off, the favourite wins."""
import pytest

from analysis.margins import (
    DEFAULT_TIE_BAND,
    check_band,
    distribution_p_better,
    head_p_better,
    pairwise_p_better,
    total_distribution,
    verdict_margin,
)
from judge.templates import default_template
from runs.verdicts import with_band
from runs.views import record_line, verdict_line

SINGLE = default_template("single")
CRITERIA, SCALE = SINGLE.criteria, SINGLE.scale


def head_fields(a: tuple, b: tuple) -> dict:
    """A scoring judge's verdict fields (single mode) for per-criterion scores `a` and `b`."""
    scores = {side: dict(zip(CRITERIA, values)) for side, values in (("A", a), ("B", b))}
    totals = {side: round(sum(s.values()), 4) for side, s in scores.items()}
    winner = "A" if totals["A"] > totals["B"] else "B" if totals["B"] > totals["A"] else "tie"
    return dict(method="head", mode="single", status="ok", scores=scores, totals=totals, winner=winner,
                judgement={}, consistent=None, reasons={})


def as_record(fields: dict, mode: str = "single") -> dict:
    rubric = {"criteria": list(CRITERIA), "scale": list(SCALE)}
    return {**fields, "mode": mode, "id": "q1", "rubric": rubric, "status": "ok", "consistent": None,
            "judgement": fields.get("judgement") or {}}


def test_a_hairline_head_verdict_is_too_close_to_call_with_the_default_band():
    fields = head_fields((2.83, 2.83, 2.84), (2.84, 2.84, 2.85))
    assert fields["totals"] == {"A": 8.5, "B": 8.53} and fields["winner"] == "B"
    banded = with_band({**fields}, SINGLE, DEFAULT_TIE_BAND)
    assert banded["winner"] == "tie"
    margin = banded["margin"]
    assert margin["basis"] == "probability" and margin["ahead"] == "B" and margin["too_close"] is True
    assert 0.49 < margin["p_a_better"] < 0.5
    line = verdict_line(as_record(banded))
    assert line.startswith("Too close to call (counted as a tie): the judge leaned to B")
    assert "P(B better) 50." in line and "inside the band of no difference (45%-55%)" in line
    assert "too close to call: P(B better)" in record_line(0, 1, as_record(banded))
    assert "mode" not in banded  # only the record's own fields go on


def test_the_band_off_or_a_clear_lead_keeps_the_winner():
    hairline = head_fields((2.83, 2.83, 2.84), (2.84, 2.84, 2.85))
    assert with_band({**hairline}, SINGLE, 0.0)["winner"] == "B"  # 0 = any lead wins, as before the band
    clear = with_band(head_fields((3.6, 3.4, 3.5), (2.2, 2.0, 2.4)), SINGLE, DEFAULT_TIE_BAND)
    assert clear["winner"] == "A" and clear["margin"]["too_close"] is False and clear["margin"]["p_a_better"] > 0.8
    assert "Winner: A (P(A better)" in verdict_line(as_record(clear)) and "outside the band" in \
        verdict_line(as_record(clear))


def test_head_p_better_is_bradley_terry_on_the_scores_logits():
    same = {c: 2.5 for c in CRITERIA}
    assert head_p_better(same, same, SCALE) == pytest.approx(0.5)
    high, low = {c: 3.5 for c in CRITERIA}, {c: 1.5 for c in CRITERIA}
    assert head_p_better(high, low, SCALE) == pytest.approx(1 - head_p_better(low, high, SCALE))
    # 1 + 3 * sigmoid(s): score 2.5 is s = 0, score 3.25 is s = ln 3; P = sigmoid(ln 3) = 0.75
    assert head_p_better({c: 3.25 for c in CRITERIA}, same, SCALE) == pytest.approx(0.75, abs=1e-4)


def reading(criterion: str, probabilities: list[float]) -> dict:
    options = [str(v) for v in range(1, 1 + len(probabilities))]
    chosen = options[probabilities.index(max(probabilities))]
    return {"line": f"{criterion.capitalize()}: ", "options": options, "probabilities": probabilities, "mass": 0.9,
            "chosen": chosen}


def test_a_probabilities_judge_with_nearly_equal_expected_totals_is_too_close_to_call():
    spread_a, spread_b = [0.1, 0.25, 0.35, 0.3], [0.1, 0.26, 0.35, 0.29]
    readings = {side: [reading(c, spread) for c in CRITERIA] for side, spread in (("A", spread_a), ("B", spread_b))}
    expected = {side: round(3 * sum((i + 1) * p for i, p in enumerate(s)), 4)
                for side, s in (("A", spread_a), ("B", spread_b))}
    assert expected == {"A": 8.55, "B": 8.49}
    fields = dict(method="probabilities", mode="single", status="ok", winner="A", totals=expected,
                  scores={side: {c: expected[side] / 3 for c in CRITERIA} for side in "AB"},
                  judgement={side: {"readings": readings[side]} for side in "AB"})
    banded = with_band(fields, SINGLE, DEFAULT_TIE_BAND)
    assert banded["winner"] == "tie" and banded["margin"]["basis"] == "probability"
    assert 0.5 < banded["margin"]["p_a_better"] < 0.52
    assert "Too close to call" in verdict_line(as_record(banded))


def test_total_distributions_convolve_the_criteria_and_compare_fairly():
    sure_three = [reading(c, [0, 0, 1.0, 0]) for c in CRITERIA]
    assert total_distribution(sure_three, CRITERIA) == {9.0: 1.0}
    coin = [reading(c, [0, 0.5, 0.5, 0]) for c in CRITERIA]
    found = total_distribution(coin, CRITERIA)
    assert found == pytest.approx({6.0: 0.125, 7.0: 0.375, 8.0: 0.375, 9.0: 0.125})
    assert distribution_p_better(found, found) == pytest.approx(0.5)
    assert distribution_p_better({9.0: 1.0}, found) == pytest.approx(0.875 + 0.125 / 2)
    assert total_distribution(sure_three[:2], CRITERIA) is None  # a criterion without a reading


def test_pairwise_probabilities_count_a_tie_half_and_a_written_pairwise_verdict_has_no_margin():
    assert pairwise_p_better({"A": 0.48, "B": 0.45, "tie": 0.07}) == pytest.approx(0.515)
    fields = dict(method="probabilities", mode="pairwise", status="ok", winner="A",
                  totals={"A": 8.5, "B": 8.0}, scores={"A": {"x": 1}, "B": {"x": 1}},
                  judgement={"probabilities": {"A": 0.48, "B": 0.45, "tie": 0.07}})
    assert with_band(fields, default_template("pairwise"), DEFAULT_TIE_BAND)["winner"] == "tie"
    written = {**fields, "method": "parsed", "judgement": {}}
    assert verdict_margin(written, CRITERIA, SCALE, DEFAULT_TIE_BAND) is None  # the judge's own [[A]] stands


def test_parsed_scores_less_than_one_step_apart_are_too_close_to_call():
    """A panel's mean of written whole-point scores: 8.5 against 8 is one judge's lead and another's tie."""
    fields = dict(method="parsed", mode="single", status="ok", winner="A", totals={"A": 8.5, "B": 8.0},
                  scores={"A": {}, "B": {}}, judgement={})
    banded = with_band(fields, SINGLE, DEFAULT_TIE_BAND)
    assert banded["winner"] == "tie" and banded["margin"]["basis"] == "gap"
    assert "A's total is 0.50 higher, less than one point" in verdict_line(as_record(banded))
    whole = with_band({**fields, "totals": {"A": 9, "B": 8}}, SINGLE, DEFAULT_TIE_BAND)
    assert whole["winner"] == "A" and whole["margin"]["too_close"] is False


@pytest.mark.parametrize("band", [-0.1, 0.5, 2, "0.05", True])
def test_a_bad_band_is_refused_with_the_range(band):
    with pytest.raises(ValueError, match="tie band must be a number from 0"):
        check_band(band)
