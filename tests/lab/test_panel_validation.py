"""A panel's verdict rows in a validation, built from its members' rows (lab/panel_validation.py)."""
import pytest

from lab.panel_validation import panel_alpha, panel_rows


def rows(*predicted, status="ok"):
    return [{"id": f"r{i}", "gold": "A", "method": "auto", "predicted": p, "status": status if p is not None else
             "unparsed", "seconds": 1.0, "len_a": 10, "len_b": 20} for i, p in enumerate(predicted)]


def test_pairs_majority_with_ties_and_missing_members():
    found = panel_rows("pairs", {"j1": rows("A", "A", "B", None), "j2": rows("A", "B", "B", None),
                                 "j3": rows("B", None, "B", None)})
    assert [r["predicted"] for r in found] == ["A", "tie", "B", None]
    assert [r["used"] for r in found] == [3, 2, 3, 0] and found[3]["status"] == "unparsed"
    assert found[0]["seconds"] == 3.0 and found[0]["len_b"] == 20


def test_scores_are_averaged_and_classes_split_evenly_have_no_class():
    assert [r["predicted"] for r in panel_rows("scores", {"j1": rows(6, 9), "j2": rows(8, None)})] == [7.0, 9.0]
    assert panel_rows("classes", {"j1": rows("toxic"), "j2": rows("non_toxic")})[0]["predicted"] is None


def test_alpha_is_one_for_members_that_always_agree():
    agreeing = panel_rows("pairs", {"j1": rows("A", "B", "tie"), "j2": rows("A", "B", "tie")})
    assert panel_alpha("pairs", agreeing)["panel_alpha"] == pytest.approx(1.0)
