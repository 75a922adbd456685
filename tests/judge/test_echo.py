"""judge/echo.py: reasons that repeat the answer or the judge's prompt are found; reasons that judge are not, even when
they quote the answer or restate the instruction."""
import pytest

from judge.echo import echoed_reasons
from judge.templates import default_template

PROMPT = "Explain how to bake a chocolate cake without using eggs."
# Answers and reasons as smollm2-135m-gguf wrote them (study-02, max 96 tokens, reasons asked after the scores):
# the "reasons" open with the template's <<< fence and copy the answer, or go on writing it.
ANSWER_A = ("To bake a chocolate cake without using eggs, you'll need to rely on other ingredients that are commonly "
            "used in chocolate recipes. Here's a step-by-step guide to make a chocolate cake without eggs:\n\n"
            "Ingredients:\n- 100 grams of chocolate cake\n- 2 eggs\n- 2 cups of sugar\n- 1 1/2 teaspoons of salt\n"
            "- 1 1/4 teaspoons of vanilla\n- 2 cups of")
ECHO_A = ("<<<\nTo bake a chocolate cake without using eggs, you'll need to rely on other ingredients that are commonly "
          "used in chocolate recipes. Here's a step-by-step guide to make a chocolate cake without eggs:\n\n"
          "Ingredients:\n- 100 grams of chocolate cake\n- 2 eggs\n- 2 cups of sugar\n- 1 1/2 teaspoons")
ANSWER_B = ("To bake a chocolate cake without using eggs, you'll need to rely on your own culinary skills and a bit of "
            "creative experimentation. Here's a step-by-step guide to make a chocolate cake without eggs:\n\n"
            "1. **Preheat Your Cake\n\n   Preheat your oven to 325°F (165°C) and a non-stick baking sheet.\n\n"
            "2. **Prepare Your Cake\n\n   Soak 2 eggs in 1")
ECHO_B = ("<<<\nTo bake a chocolate cake without using eggs, you'll need to rely on your own culinary skills and a bit of "
          "creative experimentation. Here's a step-by-step guide to make a chocolate cake without eggs:\n\n"
          "- Preheat your cake\n- Soak 2 eggs in 1\n- Use a non-stick baking sheet to bake the cake\n- Use a")
ANSWERS = (ANSWER_A, ANSWER_B)


@pytest.mark.parametrize("reasons", [
    ECHO_A,
    ECHO_B,
    "A: " + ECHO_A.replace("\n", " "),  # as the page showed it: "A: <<< To bake…"
    ECHO_A.removeprefix("<<<\n"),  # the copy alone, without the fence: still mostly the answer's words
    ECHO_B.removeprefix("<<<\n"),  # the answer begun again and continued in the judge's own way
    ANSWER_B + "\n>>>",
])
def test_real_echoed_replies_are_echoes(reasons):
    assert echoed_reasons(reasons, ANSWERS, PROMPT)


@pytest.mark.parametrize("reasons", [
    "<one or two sentences>",  # the output format's slot written out
    "Reasons: <one or two sentences>",
    "Relevance: does the answer address what the instruction asks?",
    "Grade the ANSWER to the INSTRUCTION on three criteria, each from 1 (poor) to 4 (excellent)",
    "Then give your verdict: [[A]] if A is better, [[B]] if B is better, [[tie]] if they are equally good.",
    "In one or two sentences, give the reasons for them. Reply with the reasons only.",  # the reasons request
    "INSTRUCTION:\n<<<\n" + PROMPT,
    PROMPT,  # the instruction written out again, nothing else
])
def test_template_echoes_are_echoes(reasons):
    assert echoed_reasons(reasons, ANSWERS, PROMPT)


def test_a_custom_templates_own_text_is_an_echo_only_when_given():
    template = default_template("single").to_yaml().replace(
        "Grade the ANSWER", "Read the recipe below as a pastry chef would and grade the ANSWER")
    reasons = "Read the recipe below as a pastry chef would"
    assert echoed_reasons(reasons, ANSWERS, PROMPT, template=template)
    assert not echoed_reasons(reasons, ANSWERS, PROMPT)


@pytest.mark.parametrize("reasons", [
    "Answer B lists 'Soak 2 eggs in 1' although the instruction asked for no eggs, and it stops mid-step.",
    "It says you'll need to rely on other ingredients but then lists 2 eggs, which contradicts the instruction.",
    "The answer explains how to bake a chocolate cake without using eggs, but its ingredient list includes eggs "
    "and it is cut off.",
    # a whole sentence of the answer quoted, then judged: most words are the judge's own
    "The answer opens with \"Here's a step-by-step guide to make a chocolate cake without eggs\" and then never gives "
    "the steps; the list of ingredients has two eggs in it, so it fails the one thing the instruction asked and is "
    "unfinished.",
    "Relevant and coherent, but incomplete: no baking time or temperature.",
    "1, 2, 3",  # what the judge wrote after 'Reasons:' on a parsed reply: not reasons, but not an echo
    "",
])
def test_reasons_that_judge_are_not_echoes(reasons):
    assert not echoed_reasons(reasons, ANSWERS, PROMPT)


def test_an_answer_that_repeats_the_instruction_does_not_make_restating_it_an_echo():
    """The answers begin with the instruction's words; a reason that restates the instruction copies them too."""
    reasons = "It does explain how to bake a chocolate cake without using eggs, step by step, and gives amounts."
    assert not echoed_reasons(reasons, ANSWERS, PROMPT)
