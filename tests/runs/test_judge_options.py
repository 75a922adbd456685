"""runs/judge_options.py: the judge settings that apply, from the judge backend's declared capabilities, and the line
that says what the default Model A and B are."""
import pytest

from runs.config import DEFAULT_JUDGE, DEFAULT_MODEL_A, DEFAULT_MODEL_B, GENERATIVE_JUDGE
from runs.judge_options import JudgeOptions, judge_options, pair_line


def test_a_scoring_judge_gets_no_writing_settings_and_is_told_why():
    options = judge_options(DEFAULT_JUDGE)
    assert options.scoring and not options.writes and not options.reasons
    assert "scoring judge" in options.note and GENERATIVE_JUDGE in options.note


@pytest.mark.parametrize("method", ["auto", "probabilities"])
def test_a_writing_judge_that_reads_probabilities_gets_every_setting(method):
    assert judge_options(GENERATIVE_JUDGE, method) == JudgeOptions()


@pytest.mark.parametrize("judge, method", [
    (GENERATIVE_JUDGE, "parsed"),  # asked to write and be parsed
    ("scripted:Relevance: 3", "auto"),  # declares no token probabilities: auto means parsed
])
def test_reasons_are_off_where_the_judge_is_parsed(judge, method):
    options = judge_options(judge, method)
    assert options.writes and not options.reasons and "parsed method" in options.note


def test_a_served_judge_keeps_every_setting_until_its_server_says_what_it_can_do():
    assert judge_options("openai:some-model@http://127.0.0.1:9/v1", "auto") == JudgeOptions()


@pytest.mark.parametrize("judge", ["", "no-such-alias", "head:/nowhere"])
def test_a_spec_that_names_nothing_leaves_every_setting_on(judge):
    assert judge_options(judge) == JudgeOptions()


def test_the_default_pair_line_says_it_is_one_model_and_how_to_compare_fine_tunes():
    line = pair_line(DEFAULT_MODEL_A, DEFAULT_MODEL_B)
    assert "one model" in line and "float32" in line and "4 bits" in line
    assert "train the demo adapters" in line and "hub ids" in line
    assert "train" not in pair_line(DEFAULT_MODEL_A, DEFAULT_MODEL_B, shared=True)  # no training there
    assert "\n" not in line


def test_the_demo_pair_line_names_two_fine_tunes():
    line = pair_line("smollm2-135m-f32-gguf+demo/step-25/adapter.gguf",
                     "smollm2-135m-f32-gguf+demo/step-100/adapter.gguf")
    assert "two fine-tunes" in line and "25 (A)" in line and "100 (B)" in line
    assert pair_line("smollm2-135m", "smollm2-135m-gguf") == ""
