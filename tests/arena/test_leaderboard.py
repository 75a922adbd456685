"""The arena's leaderboard against numbers worked out by hand: Bradley-Terry on constructed votes (ties and "both are
bad" half a win each way, as FastChat counts them), win rates, the judge's column on the same battles, agreement and
Cohen's kappa; and its exports."""
import json
import math

import pytest

from analysis.agreement import agreement_with_ci
from arena.leaderboard import build_leaderboard, rating, table_rows, to_csv, to_dict
from arena.store import BattleState
from arena.views import export_leaderboard, html_report, leaderboard_markdown, reveal_markdown


def state(n: int, a: str, b: str, vote: str | None, judge: str | None = None) -> BattleState:
    battle = {"event": "battle", "battle": f"b-{n:012x}", "model_a": a, "model_b": b, "prompt": "p",
              "answers": {"A": {"text": "x"}, "B": {"text": "y"}}}
    return BattleState(battle, vote and {"event": "vote", "vote": vote},
                       judge and {"event": "judged", "judge": "scripted:j", "winner": judge})


def test_two_models_match_the_closed_form_with_ties_and_both_bad_as_half_wins():
    """X beats Y 3 times (on either side), Y beats X once, one tie, one "both are bad". Each tie is half a win each
    way and the prior adds 0.5 each way: W_X = 3 + 0.5 + 0.5 + 0.5 = 4.5, W_Y = 1 + 0.5 + 0.5 + 0.5 = 2.5. With two
    models the MLE is s_X / s_Y = W_X / W_Y = 1.8, and with geometric mean 1, s_X = sqrt(1.8) = 1.3416."""
    states = [state(1, "X", "Y", "A"), state(2, "Y", "X", "B"), state(3, "X", "Y", "A"), state(4, "X", "Y", "B"),
              state(5, "X", "Y", "tie"), state(6, "Y", "X", "both_bad")]
    board = build_leaderboard(states, resamples=200)
    x, y = board.rows
    assert (x.model, y.model) == ("X", "Y")
    assert x.crowd.strength == pytest.approx(math.sqrt(1.8), rel=1e-6)
    assert y.crowd.strength == pytest.approx(1 / math.sqrt(1.8), rel=1e-6)
    assert x.crowd.rating == pytest.approx(1000 + 400 * math.log10(math.sqrt(1.8)), abs=1e-6)  # 1051.05
    assert round(x.crowd.rating, 2) == 1051.05
    assert (x.crowd.wins, x.crowd.ties, x.crowd.losses, x.crowd.battles) == (3, 2, 1, 6)
    assert x.crowd.win_rate == pytest.approx(4 / 6) and y.crowd.win_rate == pytest.approx(2 / 6)
    assert x.crowd.low < x.crowd.rating < x.crowd.high
    assert (board.votes, board.both_bad, board.judged) == (6, 1, 0)
    assert x.judge.rating is None and x.judge.battles == 0  # no verdicts yet: an empty column, not a guess


def test_three_models_satisfy_the_likelihood_equations_worked_out_by_hand():
    """A beats B twice, B beats C twice, C beats A once, A ties C once. With the prior's 0.5 each way:
    W_A = 2 + 0 + 0.5 + 2 * 0.5 = 3.5, W_B = 2 + 1 = 3, W_C = 1 + 0.5 + 1 = 2.5; games n_AB = 3, n_BC = 3, n_AC = 3.
    At the maximum every W_i = sum_j n_ij s_i / (s_i + s_j)."""
    states = [state(1, "A", "B", "A"), state(2, "B", "A", "B"), state(3, "B", "C", "A"), state(4, "C", "B", "B"),
              state(5, "C", "A", "A"), state(6, "A", "C", "tie")]
    board = build_leaderboard(states, resamples=100)
    s = {r.model: r.crowd.strength for r in board.rows}
    wins, games = {"A": 3.5, "B": 3.0, "C": 2.5}, 3.0
    for i in s:
        expected = sum(games * s[i] / (s[i] + s[j]) for j in s if j != i)
        assert expected == pytest.approx(wins[i], abs=1e-6)
    assert math.prod(s.values()) == pytest.approx(1.0)
    assert [r.model for r in board.rows] == ["A", "B", "C"]


def test_the_judge_column_ranks_the_same_battles_by_its_verdicts():
    """The crowd prefers X, the judge Y on the same battles; a battle without a vote counts for neither, and an
    unparsed verdict (winner None) is left out of the judge's column and of the agreement."""
    states = [state(1, "X", "Y", "A", judge="B"), state(2, "X", "Y", "A", judge="B"), state(3, "Y", "X", "B", "A"),
              state(4, "X", "Y", None, judge="A"), state(5, "X", "Y", "A", judge=None)]
    states[4].judged = {"event": "judged", "judge": "scripted:j", "winner": None, "error": "unparsed"}
    board = build_leaderboard(states, resamples=100)
    rows = {r.model: r for r in board.rows}
    assert rows["X"].crowd.battles == 4 and rows["X"].judge.battles == 3
    assert rows["X"].crowd.rating > 1000 > rows["X"].judge.rating
    assert rows["Y"].judge.win_rate == 1.0
    assert board.judged == 3 and board.agreement.n == 3 and board.agreement.agreement == 0.0


def test_agreement_and_kappa_by_hand():
    """crowd A A B tie, judge A B B tie: agreement 3/4; p_e = .5*.25 + .25*.5 + .25*.25 = .3125;
    kappa = (.75 - .3125) / (1 - .3125) = 0.63636."""
    result = agreement_with_ci(["A", "A", "B", "tie"], ["A", "B", "B", "tie"], resamples=500)
    assert result.agreement == 0.75 and result.kappa == pytest.approx(0.636363, abs=1e-5)
    assert result.agreement_low < 0.75 < result.agreement_high
    assert result.kappa_low <= result.kappa <= result.kappa_high


def test_agreement_with_no_pairs_and_with_one_label_throughout():
    assert agreement_with_ci([], []).n == 0
    same = agreement_with_ci(["A"] * 5, ["A"] * 5)
    assert same.agreement == 1.0 and same.kappa is None and same.kappa_low is None
    assert same.agreement_low < 1.0  # Wilson's: five of five is not certainty


def test_the_leaderboard_is_the_same_for_the_same_battles():
    states = [state(i, "X", "Y", "AB"[i % 2] if i % 3 else "tie", judge="A") for i in range(1, 12)]
    assert to_dict(build_leaderboard(states)) == to_dict(build_leaderboard(states))


def test_the_page_says_what_the_numbers_mean_and_how_ties_count():
    states = [state(1, "X", "Y", "A", judge="A"), state(2, "X", "Y", "both_bad", judge="tie")]
    text = leaderboard_markdown(build_leaderboard(states, resamples=50))
    for words in ("What the numbers mean", "1000", "64%", "half a win", "'both are bad' vote is a tie", "FastChat",
                  "agrees with the crowd on **100%**", "Cohen's kappa"):
        assert words in text
    assert "No votes yet" in leaderboard_markdown(build_leaderboard([state(1, "X", "Y", None)]))
    assert "Few votes" in text
    many = [state(i, "X", "Y", "A") for i in range(1, 31)]
    assert "Few votes" not in leaderboard_markdown(build_leaderboard(many, resamples=50))


def test_exports_hold_the_same_numbers_and_the_html_escapes_names(tmp_path):
    hostile = "<img src=x onerror=alert(1)>"
    states = [state(1, hostile, "Y", "A", judge="A"), state(2, "Y", hostile, "tie", judge="B")]
    board = build_leaderboard(states, resamples=50)
    data = json.loads(export_leaderboard(board, "json", tmp_path).read_text())
    assert data["votes"] == 2 and {m["model"] for m in data["models"]} == {hostile, "Y"}
    assert data["models"][0]["crowd"]["rating"] == pytest.approx(board.rows[0].crowd.rating)
    lines = export_leaderboard(board, "csv", tmp_path).read_text().splitlines()
    assert lines[0].startswith("model,rater,battles") and len(lines) == 1 + 2 * 2
    page = html_report(board)
    assert hostile not in page and "&lt;img" in page
    assert export_leaderboard(board, "html", tmp_path).suffix == ".html"
    assert table_rows(board)[0][0] in (hostile, "Y") and to_csv(board).splitlines() == lines
    with pytest.raises(ValueError):
        export_leaderboard(board, "xlsx", tmp_path)


def test_the_reveal_names_the_models_only_after_the_vote():
    unvoted = state(1, "secret-x", "secret-y", None)
    assert "secret" not in reveal_markdown(unvoted)
    voted = state(1, "secret-x", "secret-y", "both_bad", judge="tie")
    text = reveal_markdown(voted)
    assert "secret-x" in text and "secret-y" in text and "Both are bad" in text and "agrees" in text
    pending = state(2, "x", "y", "A")
    assert "still working" in reveal_markdown(pending)


def test_rating_scale():
    assert rating(1.0) == 1000 and rating(10 ** 0.25) == pytest.approx(1100)
