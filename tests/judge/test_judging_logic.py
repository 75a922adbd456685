"""judge/judging.py: retry on an unreadable reply, position swap, mapping back to A/B, and explicit 'unparsed'.

No model is loaded here: the judge is the scripted backend, replaying fixed replies.
"""

import pytest

from judge.judging import (
    OK,
    RETRY_MESSAGE,
    UNPARSED,
    JudgeCall,
    OrderVerdict,
    SingleJudgement,
    ask_judge,
    combine_orders,
    judge_pair,
    judge_single,
    single_winner,
)
from judge.parsing import parse_single_reply
from judge.templates import default_template
from models.backends.scripted import ScriptedBackend
from models.settings import DEFAULT_JUDGE_SETTINGS
from models.spec import parse_model_spec

CRITERIA = ("relevance", "coherence", "completeness")
SCALE = (1, 4)


def ScriptedJudge(replies) -> ScriptedBackend:
    """The scripted backend (models/backends/scripted.py) as the judge: it gives `replies` in turn and keeps every
    conversation it was sent in `.calls`. No weights load; the real judges are tested in tests/runs and tests/models."""
    return ScriptedBackend(spec=parse_model_spec("scripted:judge"), replies=list(replies))


def single_reply(rel, coh, com, reasons="ok"):
    return f"Relevance: {rel}\nCoherence: {coh}\nCompleteness: {com}\nReasons: {reasons}"


def pair_reply(first, second, verdict, reasons="r"):
    """A pairwise reply: `first`/`second` are the score triples of the answers in the slots the judge saw."""
    lines = [f"{c.capitalize()}: A={a} B={b}" for c, a, b in zip(CRITERIA, first, second)]
    return "\n".join(lines + [f"Verdict: [[{verdict}]]", f"Reasons: {reasons}"])


def scores(rel, coh, com):
    return {"relevance": rel, "coherence": coh, "completeness": com}


def parse_single(reply):
    return parse_single_reply(reply, CRITERIA, SCALE)


def test_scripted_judge_is_a_backend():
    judge = ScriptedJudge(["hello there"])
    generation = judge.score([{"role": "user", "content": "x"}], DEFAULT_JUDGE_SETTINGS)
    assert generation.text == "hello there"
    assert generation.n_tokens == 2
    assert judge.spec.text == "scripted:judge"


# --------------------------------------------------------------------------------------------- ask_judge

def test_ask_judge_first_reply_parses():
    judge = ScriptedJudge([single_reply(3, 2, 1)])
    messages = [{"role": "user", "content": "grade this"}]
    parsed, call = ask_judge(judge, messages, parse_single, "FORMAT", DEFAULT_JUDGE_SETTINGS)
    assert parsed.scores == scores(3, 2, 1)
    assert call.status == OK
    assert call.error is None
    assert call.raw_replies == [single_reply(3, 2, 1)]
    assert len(judge.calls) == 1
    assert call.seconds >= 0


def test_ask_judge_retries_once_after_an_unparseable_reply():
    bad, good = "I think it is quite good.", single_reply(4, 3, 2)
    judge = ScriptedJudge([bad, good])
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "grade this"}]
    parsed, call = ask_judge(judge, messages, parse_single, "Relevance: <1-4>\n", DEFAULT_JUDGE_SETTINGS)

    assert call.status == OK
    assert call.error is None
    assert parsed.scores == scores(4, 3, 2)
    assert call.raw_replies == [bad, good]
    assert judge.calls[0] == messages
    retry = judge.calls[1]
    # The retry keeps the original messages, shows the bad reply, and says what was wrong with it.
    assert retry[:2] == messages
    assert retry[2] == {"role": "assistant", "content": bad}
    assert retry[3]["role"] == "user"
    assert "no 'Relevance: <1-4>' line in the reply" in retry[3]["content"]  # the reason
    assert retry[3]["content"] == RETRY_MESSAGE.format(
        reason="no 'Relevance: <1-4>' line in the reply", output_format="Relevance: <1-4>")
    assert len(retry) == 4


def test_ask_judge_gives_up_after_two_bad_replies():
    judge = ScriptedJudge(["nonsense", "Relevance: 9\nCoherence: 1\nCompleteness: 1"])
    parsed, call = ask_judge(judge, [{"role": "user", "content": "x"}], parse_single, "F", DEFAULT_JUDGE_SETTINGS)
    assert parsed is None
    assert call.status == UNPARSED
    assert call.raw_replies == ["nonsense", "Relevance: 9\nCoherence: 1\nCompleteness: 1"]
    assert "relevance score 9 is outside 1-4" in call.error  # the last reason is kept
    assert len(judge.calls) == 2  # exactly one retry


def test_ask_judge_does_not_mutate_the_messages():
    judge = ScriptedJudge(["bad", single_reply(1, 1, 1)])
    messages = [{"role": "user", "content": "x"}]
    ask_judge(judge, messages, parse_single, "F", DEFAULT_JUDGE_SETTINGS)
    assert messages == [{"role": "user", "content": "x"}]


# --------------------------------------------------------------------------------------------- judge_single

def test_judge_single_bad_then_good():
    template = default_template("single")
    judge = ScriptedJudge(["Great answer!", single_reply(4, 4, 3, "solid")])
    result = judge_single(judge, template, "prompt", "answer", DEFAULT_JUDGE_SETTINGS)
    assert result.status == OK
    assert result.scores == scores(4, 4, 3)
    assert result.total == 11
    assert result.reasons == "solid"
    assert len(result.call.raw_replies) == 2
    retry_text = judge.calls[1][-1]["content"]
    assert "Your reply could not be read: no 'Relevance: <1-4>' line in the reply" in retry_text
    assert template.output_format.strip() in retry_text


def test_judge_single_both_bad_is_unparsed_never_scored():
    judge = ScriptedJudge(["first bad", "second bad"])
    result = judge_single(judge, default_template("single"), "p", "a", DEFAULT_JUDGE_SETTINGS)
    assert result.status == UNPARSED
    assert result.scores is None
    assert result.total is None
    assert result.reasons == ""
    assert result.call.raw_replies == ["first bad", "second bad"]
    assert result.to_dict()["call"]["raw_replies"] == ["first bad", "second bad"]


def test_judge_single_sends_the_rendered_template():
    template = default_template("single")
    judge = ScriptedJudge([single_reply(2, 2, 2)])
    judge_single(judge, template, "THE-PROMPT", "THE-ANSWER", DEFAULT_JUDGE_SETTINGS)
    assert judge.calls[0] == template.render(prompt="THE-PROMPT", answer="THE-ANSWER")


# --------------------------------------------------------------------------------------------- judge_pair

def test_judge_pair_consistent_preference_for_a():
    # AB: A is shown first and wins ([[A]]). BA: A is shown second and wins ([[B]]). Same answer both times.
    judge = ScriptedJudge([pair_reply((4, 4, 4), (2, 2, 2), "A"), pair_reply((2, 2, 2), (4, 4, 4), "B")])
    result = judge_pair(judge, default_template("pairwise"), "p", "ANSWER-A", "ANSWER-B", DEFAULT_JUDGE_SETTINGS)
    assert result.status == OK
    assert result.winner == "A"
    assert result.consistent is True
    assert [o.order for o in result.orders] == ["AB", "BA"]
    assert [o.verdict for o in result.orders] == ["A", "A"]
    assert result.scores_a == scores(4.0, 4.0, 4.0)
    assert result.scores_b == scores(2.0, 2.0, 2.0)


def test_judge_pair_swaps_the_answers_in_the_second_pass():
    template = default_template("pairwise")
    judge = ScriptedJudge([pair_reply((3, 3, 3), (3, 3, 3), "tie"), pair_reply((3, 3, 3), (3, 3, 3), "tie")])
    judge_pair(judge, template, "p", "ANSWER-A", "ANSWER-B", DEFAULT_JUDGE_SETTINGS)
    assert judge.calls[0] == template.render(prompt="p", answer_a="ANSWER-A", answer_b="ANSWER-B")
    assert judge.calls[1] == template.render(prompt="p", answer_a="ANSWER-B", answer_b="ANSWER-A")


def test_judge_pair_position_bias_becomes_an_inconsistent_tie():
    # The judge always prefers whatever is in the first slot: AB says [[A]], BA says [[A]] (= original B).
    judge = ScriptedJudge([pair_reply((4, 4, 4), (2, 2, 2), "A"), pair_reply((4, 4, 4), (2, 2, 2), "A")])
    result = judge_pair(judge, default_template("pairwise"), "p", "a", "b", DEFAULT_JUDGE_SETTINGS)
    assert result.status == OK
    assert result.winner == "tie"
    assert result.consistent is False
    assert [o.verdict for o in result.orders] == ["A", "B"]
    assert result.scores_a == scores(3.0, 3.0, 3.0)  # (4 + 2) / 2: the first slot's 4 and the second slot's 2
    assert result.scores_b == scores(3.0, 3.0, 3.0)


def test_judge_pair_maps_ba_scores_back_to_the_original_answers():
    # In the BA pass the judge's "A" is the original B: its scores must land in scores_b.
    judge = ScriptedJudge([pair_reply((4, 3, 2), (1, 2, 3), "A", "ab"), pair_reply((2, 1, 1), (4, 4, 4), "B", "ba")])
    result = judge_pair(judge, default_template("pairwise"), "p", "a", "b", DEFAULT_JUDGE_SETTINGS)
    ab, ba = result.orders
    assert (ab.scores_a, ab.scores_b) == (scores(4, 3, 2), scores(1, 2, 3))
    assert (ba.scores_a, ba.scores_b) == (scores(4, 4, 4), scores(2, 1, 1))
    assert ba.verdict == "A"
    assert result.scores_a == scores(4.0, 3.5, 3.0)
    assert result.scores_b == scores(1.5, 1.5, 2.0)
    assert result.reasons == "[AB] ab\n[BA] ba"


@pytest.mark.parametrize("unparsed_order", ["AB", "BA"])
def test_judge_pair_one_order_unparsed_gives_no_winner(unparsed_order):
    good = pair_reply((4, 4, 4), (1, 1, 1), "A")
    script = ["junk", "more junk", good] if unparsed_order == "AB" else [good, "junk", "more junk"]
    judge = ScriptedJudge(script)
    result = judge_pair(judge, default_template("pairwise"), "p", "a", "b", DEFAULT_JUDGE_SETTINGS)
    assert result.status == UNPARSED
    assert result.winner is None  # never a silent tie
    assert result.consistent is None
    assert result.scores_a is None and result.scores_b is None
    bad = next(o for o in result.orders if o.order == unparsed_order)
    assert bad.status == UNPARSED and bad.verdict is None
    assert bad.call.raw_replies == ["junk", "more junk"]
    assert len(judge.calls) == len(script)  # both orders were still asked


def test_judge_pair_without_swap_asks_once():
    judge = ScriptedJudge([pair_reply((2, 2, 2), (3, 3, 3), "B")])
    result = judge_pair(judge, default_template("pairwise"), "p", "a", "b", DEFAULT_JUDGE_SETTINGS, swap=False)
    assert result.status == OK
    assert result.winner == "B"
    assert result.consistent is None
    assert len(result.orders) == 1
    assert len(judge.calls) == 1


def test_judge_pair_retry_within_an_order():
    judge = ScriptedJudge([
        "Relevance: A=4 B=1\nCoherence: A=4 B=1\nCompleteness: A=4 B=1",  # no verdict
        pair_reply((4, 4, 4), (1, 1, 1), "A"),
        pair_reply((1, 1, 1), (4, 4, 4), "B"),
    ])
    result = judge_pair(judge, default_template("pairwise"), "p", "a", "b", DEFAULT_JUDGE_SETTINGS)
    assert result.status == OK and result.winner == "A" and result.consistent is True
    assert len(result.orders[0].call.raw_replies) == 2
    assert len(result.orders[1].call.raw_replies) == 1
    assert "no verdict [[A]], [[B]] or [[tie]]" in judge.calls[1][-1]["content"]


def test_pairwise_to_dict_includes_reasons():
    judge = ScriptedJudge([pair_reply((4, 4, 4), (1, 1, 1), "A", "x"), pair_reply((1, 1, 1), (4, 4, 4), "B", "y")])
    result = judge_pair(judge, default_template("pairwise"), "p", "a", "b", DEFAULT_JUDGE_SETTINGS)
    data = result.to_dict()
    assert data["winner"] == "A"
    assert data["reasons"] == "[AB] x\n[BA] y"
    assert len(data["orders"]) == 2


# --------------------------------------------------------------------------------------------- combine_orders

def order(name, verdict, a=None, b=None, status=OK):
    a = scores(3, 3, 3) if a is None else a
    b = scores(3, 3, 3) if b is None else b
    if status != OK:
        return OrderVerdict(name, status, None, None, None, "", JudgeCall(status=status))
    return OrderVerdict(name, OK, verdict, a, b, "", JudgeCall(status=OK))


COMBINE = [
    ("both A", ["A", "A"], "A", True),
    ("both B", ["B", "B"], "B", True),
    ("both tie", ["tie", "tie"], "tie", True),
    ("A then B", ["A", "B"], "tie", False),
    ("B then A", ["B", "A"], "tie", False),
    ("A then tie", ["A", "tie"], "tie", False),
    ("tie then B", ["tie", "B"], "tie", False),
    ("one order A", ["A"], "A", None),
    ("one order tie", ["tie"], "tie", None),
]


@pytest.mark.parametrize("verdicts, winner, consistent", [c[1:] for c in COMBINE], ids=[c[0] for c in COMBINE])
def test_combine_orders(verdicts, winner, consistent):
    orders = [order(name, v) for name, v in zip(("AB", "BA"), verdicts)]
    result = combine_orders(orders)
    assert result.status == OK
    assert result.winner == winner
    assert result.consistent is consistent


@pytest.mark.parametrize("statuses", [(UNPARSED, OK), (OK, UNPARSED), (UNPARSED, UNPARSED), (UNPARSED,)])
def test_combine_orders_unparsed(statuses):
    orders = [order(name, "A", status=s) for name, s in zip(("AB", "BA"), statuses)]
    result = combine_orders(orders)
    assert result.status == UNPARSED
    assert result.winner is None
    assert result.consistent is None
    assert result.scores_a is None and result.scores_b is None
    assert result.orders == orders


def test_combine_orders_means_scores():
    result = combine_orders([
        order("AB", "A", scores(4, 2, 1), scores(1, 1, 1)),
        order("BA", "A", scores(3, 3, 4), scores(2, 1, 4)),
    ])
    assert result.scores_a == scores(3.5, 2.5, 2.5)
    assert result.scores_b == scores(1.5, 1.0, 2.5)


# --------------------------------------------------------------------------------------------- single_winner

def judgement(total):
    status = OK if total is not None else UNPARSED
    return SingleJudgement(status, None if total is None else {}, total, "", JudgeCall(status=status))


@pytest.mark.parametrize("total_a, total_b, winner", [
    (10, 7, "A"),
    (5, 9, "B"),
    (8, 8, "tie"),
    (3, 3, "tie"),
    (None, 8, None),
    (8, None, None),
    (None, None, None),
])
def test_single_winner(total_a, total_b, winner):
    assert single_winner(judgement(total_a), judgement(total_b)) == winner


def test_single_winner_unparsed_is_never_a_tie():
    judge = ScriptedJudge(["bad", "bad again", single_reply(3, 3, 3)])
    template = default_template("single")
    a = judge_single(judge, template, "p", "a", DEFAULT_JUDGE_SETTINGS)
    # The scripted judge has one reply left for b, so b parses and a does not.
    b = judge_single(judge, template, "p", "b", DEFAULT_JUDGE_SETTINGS)
    assert (a.status, b.status) == (UNPARSED, OK)
    assert single_winner(a, b) is None
