"""Panel verdicts (judge/panel.py) and the panel's agreement (analysis/panel_agreement.py)."""
import krippendorff
import numpy as np
import pytest

from analysis.panel_agreement import panel_agreement
from judge.panel import PanelMember, combine_panel

SCORES = {"A": {"relevance": 3}, "B": {"relevance": 2}}


def member(judge: str, winner, status="ok", scores=SCORES):
    totals = {side: (sum(s.values()) if s else None) for side, s in (scores or {}).items()} if scores else {}
    return PanelMember(judge, status, winner, scores or {"A": None, "B": None}, totals)


def test_pairwise_majority_and_an_even_split_is_a_tie():
    assert combine_panel([member("j1", "A"), member("j2", "B"), member("j3", "A")], "pairwise").winner == "A"
    split = combine_panel([member("j1", "B"), member("j2", "A")], "pairwise")
    assert split.winner == "tie" and split.votes == {"B": 1, "A": 1}


def test_an_unparsed_judge_shrinks_the_panel_instead_of_breaking_ties_by_order():
    verdict = combine_panel([member("j1", None, status="unparsed", scores=None), member("j2", "B"),
                             member("j3", "A")], "pairwise")
    assert (verdict.size, verdict.used, verdict.winner) == (3, 2, "tie")
    none_read = combine_panel([member("j1", None, status="unparsed", scores=None)], "pairwise")
    assert none_read.status == "unparsed" and none_read.winner is None


def test_rubric_panels_average_the_scores():
    low = {"A": {"relevance": 1}, "B": {"relevance": 4}}
    verdict = combine_panel([member("j1", "A"), member("j2", "B", scores=low)], "single")
    assert verdict.scores == {"A": {"relevance": 2.0}, "B": {"relevance": 3.0}} and verdict.winner == "B"


def panel_records(mode: str, verdicts_by_judge: dict[str, list]) -> list[dict]:
    judges = list(verdicts_by_judge)
    n = len(next(iter(verdicts_by_judge.values())))
    return [{"mode": mode, "panel": {"members": [
        {"judge": j, "winner": verdicts_by_judge[j][i] if mode == "pairwise" else None,
         "totals": None if mode == "pairwise" else verdicts_by_judge[j][i]} for j in judges]}} for i in range(n)]


def test_alpha_matches_krippendorffs_own_computation_with_a_missing_verdict():
    verdicts = {"j1": ["A", "B", "A", "tie", "B"], "j2": ["A", "B", "B", "tie", None], "j3": ["A", "A", "B", "tie", "B"]}
    found = panel_agreement(panel_records("pairwise", verdicts))
    codes = {"A": 0, "B": 1, "tie": 2, None: np.nan}
    expected = krippendorff.alpha(reliability_data=[[codes[v] for v in row] for row in verdicts.values()],
                                  level_of_measurement="nominal")
    assert found["alpha"] == pytest.approx(expected, abs=1e-4) and found["level"] == "nominal"
    assert found["items"] == 5 and 0 < found["pairwise_agreement"] < 1


def test_perfect_agreement_on_totals_is_one_and_records_without_panels_have_none():
    totals = {"j1": [{"A": 5, "B": 9}, {"A": 7, "B": 6}], "j2": [{"A": 5, "B": 9}, {"A": 7, "B": 6}]}
    assert panel_agreement(panel_records("single", totals))["alpha"] == pytest.approx(1.0)
    assert panel_agreement([{"mode": "single", "panel": None}]) is None
