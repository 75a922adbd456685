"""A reward model as a judge, in judge/rewards.py and judge/judging.py, without a model: a fake reward model whose
rewards are given per answer. The verdict and P(A better) come from the raw rewards (sigmoid(r_A - r_B)); the score
shown is one criterion, `preference`, the reward mapped onto the template's scale with the mapping in the rubric.
The real model is in tests/runs/test_reward_judge_runs.py."""
import math
from types import SimpleNamespace

import pytest

from analysis.margins import p_better, verdict_margin
from judge.judging import HEAD, OK, judge_pair, judge_single, single_winner
from judge.panel import PanelMember, combine_panel
from judge.rewards import PREFERENCE, judged_rubric, mapped_score, recorded_rewards, sigmoid
from judge.rubric import Rubric
from judge.templates import default_template, load_template
from models.backend import Capabilities
from models.settings import DEFAULT_JUDGE_SETTINGS
from runs.verdicts import with_band
from runs.views import record_line, score_rows, scores_label, verdict_line

SINGLE, PAIRWISE = default_template("single"), default_template("pairwise")


class FakeRewardModel:
    """Rewards looked up by answer text; counts its passes, so a test sees each answer scored alone."""

    capabilities = Capabilities(streaming=False, answer_scores=True, reward_model=True)
    criteria = (PREFERENCE,)

    def __init__(self, rewards: dict[str, float]):
        self.table, self.calls = rewards, []
        self.spec = SimpleNamespace(text="reward:fake")

    def rewards(self, prompt: str, answers: list[str]) -> list[float]:
        self.calls.append(list(answers))
        return [self.table[a] for a in answers]


def expected_score(r: float, low: float, high: float) -> float:
    return low + (high - low) / (1 + math.exp(-r))


@pytest.mark.parametrize("r_a, r_b", [(1.5, -0.5), (-2.0, 3.0), (0.25, 0.25)])
def test_a_single_verdict_is_the_higher_raw_reward_and_its_score_one_mapped_criterion(r_a, r_b):
    judge = FakeRewardModel({"a": r_a, "b": r_b})
    a, b = (judge_single(judge, SINGLE, "q", text, DEFAULT_JUDGE_SETTINGS) for text in ("a", "b"))
    assert a.status == b.status == OK and a.method == HEAD and judge.calls == [["a"], ["b"]]
    assert list(a.scores) == [PREFERENCE]  # never the template's relevance, coherence, completeness
    assert a.scores[PREFERENCE] == pytest.approx(expected_score(r_a, 1, 4), abs=1e-4) and a.total == a.scores[PREFERENCE]
    assert (a.reward, b.reward) == (r_a, r_b) and a.to_dict()["reward"] == r_a
    assert single_winner(a, b) == ("A" if r_a > r_b else "B" if r_b > r_a else "tie")


def test_rewards_far_apart_that_round_to_one_score_still_decide_by_the_rewards():
    judge = FakeRewardModel({"a": 14.0, "b": 22.0})  # both map to 4.0 at four decimals
    a, b = (judge_single(judge, SINGLE, "q", text, DEFAULT_JUDGE_SETTINGS) for text in ("a", "b"))
    assert a.total == b.total == 4.0
    assert single_winner(a, b) == "B"
    fields = dict(method=HEAD, mode="single", scores={"A": a.scores, "B": b.scores}, totals={"A": 4.0, "B": 4.0},
                  winner="B", judgement={"A": a.to_dict(), "B": b.to_dict()})
    assert p_better(fields, SINGLE.criteria, SINGLE.scale) == pytest.approx(1 / (1 + math.exp(8.0)))
    margin = verdict_margin(fields, SINGLE.criteria, SINGLE.scale, band=0.05)
    assert margin.basis == "probability" and margin.ahead == "B" and not margin.too_close


@pytest.mark.parametrize("r_a, r_b, band, winner", [(0.3, 0.1, 0.05, "tie"), (0.3, 0.1, 0.0, "A"),
                                                    (-1.0, 1.0, 0.05, "B")])
def test_a_pairwise_verdict_scores_each_answer_alone_in_both_orders(r_a, r_b, band, winner):
    judge = FakeRewardModel({"a": r_a, "b": r_b})
    verdict = judge_pair(judge, PAIRWISE, "q", "a", "b", DEFAULT_JUDGE_SETTINGS, swap=True)
    assert judge.calls == [["a", "b"], ["b", "a"]] and [o.order for o in verdict.orders] == ["AB", "BA"]
    assert verdict.consistent is True and verdict.rewards == {"A": r_a, "B": r_b}
    assert verdict.scores_a == {PREFERENCE: mapped_score(r_a, PAIRWISE.scale)}
    record = dict(method=HEAD, mode="pairwise", status=OK, judgement=verdict.to_dict(), consistent=True,
                  scores={"A": verdict.scores_a, "B": verdict.scores_b}, winner=verdict.winner,
                  totals={"A": verdict.scores_a[PREFERENCE], "B": verdict.scores_b[PREFERENCE]})
    banded = with_band(record, PAIRWISE, band)
    p = 1 / (1 + math.exp(r_b - r_a))
    assert banded["margin"]["p_a_better"] == pytest.approx(p, abs=1e-4) and banded["winner"] == winner


def test_a_record_shows_one_mapped_criterion_and_the_raw_rewards_never_unparsed():
    judge = FakeRewardModel({"a": 2.0, "b": -1.0})
    verdict = judge_pair(judge, PAIRWISE, "q", "a", "b", DEFAULT_JUDGE_SETTINGS, swap=True)
    rubric = judged_rubric(PAIRWISE.rubric, [judge])
    record = with_band(dict(
        id="x", method=HEAD, mode="pairwise", status=OK, judgement=verdict.to_dict(), consistent=True,
        scores={"A": verdict.scores_a, "B": verdict.scores_b}, winner=verdict.winner, rubric=rubric.to_dict(),
        totals={side: s[PREFERENCE] for side, s in (("A", verdict.scores_a), ("B", verdict.scores_b))}),
        PAIRWISE, 0.05)
    record["mode"] = "pairwise"
    rows = score_rows(record)
    assert [row[0] for row in rows] == ["Preference = 1 + 3·sigmoid(r)", "Total (of 4)",
                                        "Reward r (raw, the model's own scale)"]
    assert rows[-1][1:] == ["2", "-1"]
    shown = " ".join(str(cell) for row in rows for cell in row) + verdict_line(record) + record_line(0, 1, record)
    assert "unparsed" not in shown and "Relevance" not in shown
    assert "sigmoid(r_A − r_B)" in verdict_line(record) and "(r 2)" in record_line(0, 1, record)
    assert "preference = 1 + 3·sigmoid(r)" in scores_label(rubric, "pairwise")


def test_the_rubric_is_one_criterion_alone_and_added_beside_the_others_on_a_panel():
    reward, writer = FakeRewardModel({}), SimpleNamespace(capabilities=Capabilities())
    alone = judged_rubric(SINGLE.rubric, [reward])
    assert alone.criteria == (PREFERENCE,) and alone.scale == SINGLE.scale and alone.max_total == 4
    assert "preference = 1 + 3·sigmoid(r)" in alone.describe() and alone.describe().startswith("preference (1-4")
    assert Rubric.from_dict(alone.to_dict()) == alone  # the mapping survives the record
    assert Rubric.from_dict({"criteria": ["overall"], "scale": [1, 5]}).mapping == ""  # records from before
    panel = judged_rubric(SINGLE.rubric, [writer, reward])
    assert panel.criteria == (*SINGLE.criteria, PREFERENCE) and panel.mapping
    assert judged_rubric(SINGLE.rubric, [writer]) == SINGLE.rubric
    prometheus = load_template("prometheus_absolute")  # one criterion on 1-5: the reward is mapped onto 1-5
    assert judged_rubric(prometheus.rubric, [reward]).describe().startswith("preference (1-5; preference = 1 + 4·")


def test_a_panel_means_each_criterion_over_the_judges_that_scored_it():
    reward = PanelMember("reward:x", OK, "A", {"A": {PREFERENCE: 3.5}, "B": {PREFERENCE: 2.0}},
                         {"A": 3.5, "B": 2.0}, method=HEAD)
    writer = PanelMember("w", OK, "B", {"A": {"relevance": 2, "coherence": 2}, "B": {"relevance": 4, "coherence": 3}},
                         {"A": 4, "B": 7})
    panel = combine_panel([reward, writer], "single")
    assert panel.scores["A"] == {PREFERENCE: 3.5, "relevance": 2, "coherence": 2}
    assert panel.totals == {"A": 7.5, "B": 9.0} and panel.winner == "B" and panel.used == 2


def test_recorded_rewards_are_read_only_from_a_reward_models_judgement():
    assert recorded_rewards({"A": {"reward": 1.0}, "B": {"reward": -2.0}}) == (1.0, -2.0)
    assert recorded_rewards({"rewards": {"A": 0.5, "B": 0.25}}) == (0.5, 0.25)
    for other in ({}, None, {"A": {"scores": {}}, "B": {}}, {"rewards": None}, {"A": {"reward": True}, "B": {}}):
        assert recorded_rewards(other) is None
    assert sigmoid(-1000.0) == 0.0 and sigmoid(1000.0) == 1.0  # no overflow for rewards far apart


def test_a_reward_that_is_not_a_number_is_unscored_with_the_reason():
    verdict = judge_single(FakeRewardModel({"a": float("nan")}), SINGLE, "q", "a", DEFAULT_JUDGE_SETTINGS)
    assert verdict.status == "unparsed" and verdict.scores is None and "not a number" in verdict.call.error
