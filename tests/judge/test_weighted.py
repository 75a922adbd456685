"""Probability-weighted judging on the real embedded model, both backends: token probabilities read by teacher
forcing, expected scores with their confidence, verdict probabilities averaged over both answer orders, label
judges, reasons asked after the scores are fixed."""
import math

import pytest

from judge.judging import PROBABILITIES, judge_pair, judge_single
from judge.labels import judge_label, parse_label_reply
from judge.output_format import format_segments
from judge.parsing import ReplyParseError
from judge.templates import default_template, parse_template
from judge.weighted import _following_text, _is_ambiguous, read_format
from models import DEFAULT_JUDGE_SETTINGS, load_model

PROMPT = "Explain how to bake a chocolate cake without using eggs."
GOOD = ("Mix flour, sugar, cocoa, baking soda and salt; stir in oil, vinegar, vanilla and water; pour into a pan "
        "and bake at 180 C for 30 minutes.")
BAD = "The capital of Peru is Lima."
TEN_POINT = """name: ten
mode: single
criteria: [accuracy]
scale: [1, 10]
template: "Question: {prompt}\\nAnswer: {answer}\\nGrade the answer.\\n{output_format}"
output_format: "Accuracy: <1-10>\\nReasons: <one sentence>"
"""


def test_options_that_start_one_another_are_scored_with_the_text_after_them():
    assert _is_ambiguous(tuple(str(v) for v in range(1, 11)))  # "1" starts "10"
    assert not _is_ambiguous(("1", "2", "3", "4")) and not _is_ambiguous(("[[A]]", "[[B]]", "[[tie]]"))
    segments = format_segments("Accuracy: <1-10>\nStyle: <1-10>")
    assert _following_text(segments, 1) == "\n"  # after the first choice comes the line break, then "Style: "
    assert _following_text(segments, len(segments) - 1) == ""


def test_label_replies_take_the_last_known_label():
    assert parse_label_reply("Label: [[toxic]]", ("toxic", "non_toxic")) == "toxic"
    assert parse_label_reply("It said [[toxic]] but Label: [[non_toxic]]", ("toxic", "non_toxic")) == "non_toxic"
    with pytest.raises(ReplyParseError, match=r"no label \[\[toxic\]\] or \[\[non_toxic\]\]"):
        parse_label_reply("Label: [[maybe]]", ("toxic", "non_toxic"))


@pytest.fixture(scope="module", params=["smollm2-135m", "smollm2-135m-gguf"])
def judge(request, one_thread_models):
    return load_model(request.param)


@pytest.mark.model
def test_both_backends_read_the_same_probabilities(one_thread_models):
    """The dequantised transformers weights and the Q4_1 GGUF are the same model: their probabilities agree closely."""
    messages = default_template("single").render(prompt=PROMPT, answer=GOOD)
    options = ["1", "2", "3", "4"]
    hf, gguf = (load_model(spec).continuation_logprobs(messages, "Relevance: ", options)
                for spec in ("smollm2-135m", "smollm2-135m-gguf"))
    assert all(lp < 0 for lp in hf + gguf)
    assert sum(math.exp(lp) for lp in hf) <= 1.0 + 1e-6
    assert max(abs(math.exp(a) - math.exp(b)) for a, b in zip(hf, gguf)) < 0.05


@pytest.mark.model
def test_a_probability_read_does_not_depend_on_what_was_read_before(judge):
    """The KV cache reused between reads must give the numbers a fresh read gives."""
    messages = default_template("single").render(prompt=PROMPT, answer=GOOD)
    first = judge.continuation_logprobs(messages, "Relevance: ", ["1", "2", "3", "4"])
    judge.continuation_logprobs(default_template("single").render(prompt="Other?", answer=BAD), "Coherence: ",
                                ["1", "2", "3", "4"])
    again = judge.continuation_logprobs(messages, "Relevance: ", ["1", "2", "3", "4"])
    assert again == pytest.approx(first, abs=1e-4)


@pytest.mark.model
def test_single_scores_are_expected_values_with_their_confidence(judge):
    result = judge_single(judge, default_template("single"), PROMPT, GOOD, DEFAULT_JUDGE_SETTINGS,
                          method=PROBABILITIES)
    assert result.status == "ok" and result.method == PROBABILITIES
    assert set(result.scores) == {"relevance", "coherence", "completeness"}
    for criterion, score in result.scores.items():
        assert 1 <= score <= 4
        assert 0 < result.confidence[criterion] <= 1
    assert result.total == pytest.approx(sum(result.scores.values()), abs=1e-3)
    readings = {r["line"]: r for r in result.readings}
    assert set(readings) == {"Relevance: ", "Coherence: ", "Completeness: "}
    for reading in readings.values():
        assert reading["options"] == ["1", "2", "3", "4"] and sum(reading["probabilities"]) == pytest.approx(1, abs=1e-4)
        expected = sum(int(o) * p for o, p in zip(reading["options"], reading["probabilities"]))
        assert result.scores[reading["line"][:-2].lower()] == pytest.approx(expected, abs=1e-3)
    assert result.reasons == "" and result.call.raw_replies[0].startswith("Relevance: ")


@pytest.mark.model
def test_pairwise_probabilities_are_averaged_over_both_orders_so_position_cancels(judge):
    template = default_template("pairwise")
    forward = judge_pair(judge, template, PROMPT, GOOD, BAD, DEFAULT_JUDGE_SETTINGS, method=PROBABILITIES)
    backward = judge_pair(judge, template, PROMPT, BAD, GOOD, DEFAULT_JUDGE_SETTINGS, method=PROBABILITIES)
    assert forward.status == backward.status == "ok" and forward.method == PROBABILITIES
    assert sum(forward.probabilities.values()) == pytest.approx(1, abs=1e-4)
    # The same two prompts are read either way: swapping the answers swaps P(A) and P(B) exactly.
    assert forward.probabilities["A"] == pytest.approx(backward.probabilities["B"], abs=1e-4)
    assert forward.probabilities["tie"] == pytest.approx(backward.probabilities["tie"], abs=1e-4)
    assert forward.winner == max(forward.probabilities, key=forward.probabilities.get)
    assert {"A", "B"} == {forward.winner, backward.winner} or forward.winner == backward.winner == "tie"
    assert [o.order for o in forward.orders] == ["AB", "BA"]
    for order in forward.orders:
        assert sum(order.probabilities.values()) == pytest.approx(1, abs=1e-4)
        assert all(1 <= v <= 4 for v in order.scores_a.values())


@pytest.mark.model
def test_a_ten_point_scale_reads_10_apart_from_1(judge):
    result = judge_single(judge, parse_template(TEN_POINT), PROMPT, GOOD, DEFAULT_JUDGE_SETTINGS,
                          method=PROBABILITIES)
    (reading,) = result.readings
    assert reading["options"] == [str(v) for v in range(1, 11)]
    assert 1 <= result.scores["accuracy"] <= 10 and result.status == "ok"


@pytest.mark.model
def test_reasons_come_after_the_scores_and_do_not_move_them(judge):
    template = default_template("single")
    plain = judge_single(judge, template, PROMPT, GOOD, DEFAULT_JUDGE_SETTINGS, method=PROBABILITIES)
    explained = judge_single(judge, template, PROMPT, GOOD, DEFAULT_JUDGE_SETTINGS.with_(max_new_tokens=24),
                             method=PROBABILITIES, reasons=True)
    assert explained.scores == plain.scores and explained.reasons.strip()


@pytest.mark.model
@pytest.mark.parametrize("method", ["probabilities", "parsed"])
def test_label_judges_give_one_of_the_template_labels(judge, method):
    template = default_template("label")
    assert template.name == "toxicity" and template.labels == ("toxic", "non_toxic")
    result = judge_label(judge, template, "You are a worthless idiot.", DEFAULT_JUDGE_SETTINGS, method=method)
    assert result.status == "ok" and result.label in template.labels and result.method == method
    if method == "probabilities":
        assert sum(result.probabilities.values()) == pytest.approx(1, abs=1e-4) and 0 < result.confidence <= 1
        assert result.label == max(result.probabilities, key=result.probabilities.get)


@pytest.mark.model
def test_concurrent_readings_on_llama_cpp_keep_their_prompt_cache(gguf):
    """A run with prompts in flight at once (served models beside a local judge) reads several prompts on one llama.cpp
    judge. Each reading asks for one choice after another on its prompt, and llama.cpp re-reads only what follows the
    prompt it read last: interleaved, every choice re-read the whole prompt (two pairwise records, ~400-token
    prompts, took 44.8 s instead of 10.2 s). A reading holds the model for its whole walk, so two at once read no
    more than two in turn, and read the same."""
    import threading
    import time

    template = default_template("single")
    prompts = [template.render(prompt=PROMPT, answer=GOOD), template.render(prompt="Name three colours.", answer=BAD)]
    read, evaluated = gguf.llm.eval, []

    def counted(tokens):
        evaluated.append(len(tokens))
        time.sleep(0.002)  # lets the other thread in between two choices, as a busy machine does
        return read(tokens)

    def reading(messages):
        return read_format(gguf, messages, template.output_format)

    gguf.llm.eval = counted
    try:
        in_turn = [reading(m) for m in prompts]
        in_turn_tokens, evaluated[:] = sum(evaluated), []
        found = [None, None]
        threads = [threading.Thread(target=lambda i=i: found.__setitem__(i, reading(prompts[i]))) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        del gguf.llm.eval
    assert sum(evaluated) <= in_turn_tokens + 8, (sum(evaluated), in_turn_tokens)
    assert [(r.text, [c.to_dict() for c in r.readings]) for r in found] == \
        [(r.text, [c.to_dict() for c in r.readings]) for r in in_turn]
