"""Grammar-constrained judge replies from the transformers backend (models/constrained.py), on the real embedded
SmolLM2-135M (`smollm2-135m`): without a grammar it never writes a readable judge reply; with the template's
grammar every reply is in format. Generations stay short to keep the file fast on a small shared CPU."""
from __future__ import annotations

import re

import pytest

from judge.judging import judge_single
from judge.output_format import output_grammar
from judge.templates import default_template
from models import DEFAULT_JUDGE_SETTINGS, SamplingSettings, load_model

pytestmark = [pytest.mark.model, pytest.mark.usefixtures("one_thread_models")]

PROMPT = "Name a primary color."
ANSWER = "Blue is a primary color."
GREEDY = SamplingSettings(temperature=0.0, min_p=0.0, max_new_tokens=40)
SINGLE_FORMAT = r"Relevance: [1-4]\nCoherence: [1-4]\nCompleteness: [1-4]\nReasons: [^\n]+"
PAIRWISE_FORMAT = (r"Relevance: A=[1-4] B=[1-4]\nCoherence: A=[1-4] B=[1-4]\nCompleteness: A=[1-4] B=[1-4]\n"
                   r"Verdict: \[\[(A|B|tie)\]\]\nReasons: [^\n]+")


@pytest.fixture(scope="module")
def judge():
    backend = load_model("smollm2-135m")
    assert backend.name == "transformers" and backend.supports_grammar
    return backend


def single_messages() -> list[dict]:
    return default_template("single").render(prompt=PROMPT, answer=ANSWER)


def single_grammar() -> str:
    return output_grammar(default_template("single").output_format)


def test_constrained_single_reply_is_in_format(judge):
    reply = judge.score(single_messages(), GREEDY, grammar=single_grammar())
    assert re.fullmatch(SINGLE_FORMAT, reply.text), reply.text
    assert 0 < reply.n_tokens <= GREEDY.max_new_tokens
    assert not judge.lock.locked()


def test_constrained_pairwise_reply_is_in_format(judge):
    template = default_template("pairwise")
    messages = template.render(prompt=PROMPT, answer_a=ANSWER, answer_b="Green.")
    reply = judge.score(messages, GREEDY.with_(max_new_tokens=60), grammar=output_grammar(template.output_format))
    assert re.fullmatch(PAIRWISE_FORMAT, reply.text), reply.text
    # Here the model wants a line break after its first words of reasons: that ends the reply, well before the cap.
    assert reply.n_tokens < 60, reply.text


def test_a_sampled_constrained_reply_is_in_format_too(judge):
    """Hot sampling (the p2 preset's temperature and min_p) only ever picks among the tokens the grammar allows."""
    hot = SamplingSettings(temperature=1.5, min_p=0.1, max_new_tokens=40, seed=3)
    reply = judge.score(single_messages(), hot, grammar=single_grammar())
    assert re.fullmatch(SINGLE_FORMAT, reply.text), reply.text


def test_a_cut_short_reply_stops_at_max_new_tokens(judge):
    reply = judge.score(single_messages(), GREEDY.with_(max_new_tokens=6), grammar=single_grammar())
    assert reply.n_tokens <= 6 and reply.text.startswith("Relevance:"), reply.text
    assert not re.fullmatch(SINGLE_FORMAT, reply.text), "a reply cut short is left incomplete for the parser to refuse"


def test_the_transformers_judge_is_constrained_and_parsed():
    result = judge_single(load_model("smollm2-135m"), default_template("single"), PROMPT, ANSWER,
                          DEFAULT_JUDGE_SETTINGS)
    assert result.status == "ok", result.call
    assert result.call.constrained is True
    assert len(result.call.raw_replies) == 1, "an in-format reply needs no retry"
    assert set(result.scores) == {"relevance", "coherence", "completeness"}
    assert all(1 <= v <= 4 for v in result.scores.values())


def test_greedy_constrained_replies_are_deterministic(judge):
    first = judge.score(single_messages(), GREEDY, grammar=single_grammar())
    second = judge.score(single_messages(), GREEDY, grammar=single_grammar())
    assert first.text == second.text


def test_without_a_grammar_score_is_complete(judge):
    short = GREEDY.with_(max_new_tokens=16)
    assert judge.score(single_messages(), short, grammar=None).text == judge.complete(single_messages(), short).text


def test_a_judge_asked_for_scores_only_stops_after_its_verdict_with_the_same_verdict():
    """The Judge Lab keeps verdicts, not reasons: held to the format up to its last choice, the judge (here the Lab's
    usual writing judge, llama.cpp; the grammar is the same text on transformers) writes the same scores and verdict
    and stops there (its reasons often ran to the token limit)."""
    from judge.judging import judge_pair

    judge, template, settings = load_model("smollm2-135m-gguf"), default_template("pairwise"), GREEDY.with_(
        max_new_tokens=60)
    whole, scored = (judge_pair(judge, template, PROMPT, ANSWER, "Green.", settings, swap=False, scores_only=only)
                     for only in (False, True))
    (whole_call,), (scored_call,) = ([o.call for o in v.orders] for v in (whole, scored))
    assert "Reasons:" in whole_call.raw_replies[0] and "Reasons" not in scored_call.raw_replies[0]
    assert re.fullmatch(PAIRWISE_FORMAT.split(r"\nReasons")[0], scored_call.raw_replies[0]), scored_call.raw_replies
    assert (scored.winner, scored.scores_a, scored.scores_b) == (whole.winner, whole.scores_a, whole.scores_b)
