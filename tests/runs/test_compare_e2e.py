"""End to end on the real embedded model: one prompt, few tokens, both judge modes, the saved run folder."""
import json

import pytest

from models import SamplingSettings
from runs.config import DEFAULT_JUDGE, DEFAULT_MODEL_A, DEFAULT_TIE_BAND, GENERATIVE_JUDGE, CompareConfig
from runs.pipeline import run_compare
from runs.prompt_sets import PromptItem, load_prompt_set

pytestmark = pytest.mark.model

PROMPT = PromptItem(id="cake", prompt="Explain how to bake a chocolate cake without using eggs.")
FEW_TOKENS = SamplingSettings(temperature=0.5, min_p=0.05, max_new_tokens=12, seed=3)
JUDGE = SamplingSettings(temperature=0.0, min_p=0.0, max_new_tokens=48)


def run(tmp_path, **overrides):
    """A compare judged by the embedded model as a writing judge (its replies, grammar and reasons are what these
    tests read), unless `judge` says otherwise."""
    overrides = {"judge": GENERATIVE_JUDGE, **overrides}
    config = CompareConfig(sampling=FEW_TOKENS, judge_sampling=JUDGE, out_dir=str(tmp_path), **overrides)
    updates = list(run_compare(config, [PROMPT]))
    return updates, updates[-1].run_dir


def test_single_mode_end_to_end_writes_a_complete_run_folder(tmp_path):
    updates, folder = run(tmp_path, judge_method="parsed")
    stages = [u.stage for u in updates]
    assert stages[0] == "loading" and stages[-1] == "done"
    assert stages.index("answer_a") < stages.index("answer_b") < stages.index("judging") < stages.index("record")
    assert stages.count("answer_a") >= 2, "answer A should stream in several pieces"

    manifest = json.loads((folder / "run.json").read_text())
    assert manifest["config"]["model_a"] == DEFAULT_MODEL_A == "smollm2-135m-f32-gguf"
    assert manifest["models"]["model_a"]["backend"] == "llamacpp"
    assert manifest["config"]["sampling"] == FEW_TOKENS.to_dict()
    assert len(manifest["judge_template"]["sha256"]) == 64 and "{answer}" in manifest["judge_template"]["text"]
    assert manifest["packages"]["transformers"] and manifest["packages"]["llama_cpp_python"]
    assert set(manifest["models"]) == {"model_a", "model_b", "judge"}
    assert "git_commit" in manifest

    (record,) = [json.loads(line) for line in (folder / "records.jsonl").read_text().splitlines()]
    assert record["answers"]["A"]["text"] and record["answers"]["B"]["text"]
    assert 1 <= record["answers"]["A"]["n_tokens"] <= 12
    # The llama.cpp judge is held to the output format by a grammar, so its replies parse.
    assert record["status"] == "ok", record["judgement"]
    for side in "AB":
        call = record["judgement"][side]["call"]
        assert call["constrained"] is True and call["raw_replies"]
        assert all(1 <= v <= 4 for v in record["scores"][side].values())
        assert record["totals"][side] == sum(record["scores"][side].values())
    expected = "A" if record["totals"]["A"] > record["totals"]["B"] else "B" if record["totals"]["B"] > record["totals"]["A"] else "tie"
    assert record["winner"] == expected
    assert set(record["timings"]) == {"answer_a", "answer_b", "judge", "total"}
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["n"] == 1 and sum(summary["wins"].values()) == 1


def test_pairwise_mode_judges_both_orders(tmp_path):
    _, folder = run(tmp_path, mode="pairwise", judge_method="parsed")
    record = json.loads((folder / "records.jsonl").read_text())
    orders = record["judgement"]["orders"]
    assert [o["order"] for o in orders] == ["AB", "BA"]
    assert record["status"] == "ok"
    verdicts = {o["verdict"] for o in orders}
    if len(verdicts) == 1:
        assert record["consistent"] is True and record["winner"] == orders[0]["verdict"]
    else:
        assert record["consistent"] is False and record["winner"] == "tie"


def test_a_transformers_judge_generating_its_reply_is_held_to_the_format(tmp_path):
    """Before, the embedded model on transformers never wrote a readable reply; constrained, it always does."""
    _, folder = run(tmp_path, judge="smollm2-135m", judge_method="parsed")
    record = json.loads((folder / "records.jsonl").read_text())
    assert record["status"] == "ok" and record["method"] == "parsed"
    for side in "AB":
        judgement = record["judgement"][side]
        assert judgement["call"]["constrained"] is True and len(judgement["call"]["raw_replies"]) == 1
        assert all(1 <= v <= 4 for v in judgement["scores"].values())


TEN_POINT_TEMPLATE = """name: two-criteria
mode: single
criteria: [accuracy, style]
scale: [1, 10]
template: "Grade the answer.\\nQuestion: {prompt}\\nAnswer: {answer}\\n{output_format}"
output_format: "Accuracy: <1-10>\\nStyle: <1-10>\\nReasons: <one sentence>"
"""


def test_a_template_with_its_own_criteria_and_scale_on_the_real_judge(tmp_path):
    """Two criteria on 1-10: the llama.cpp judge's grammar follows the template, and the record and its table say so
    (every other view of such a run: tests/dashboard/test_custom_rubric.py)."""
    from runs.views import format_score, score_rows

    _, folder = run(tmp_path, model_a="smollm2-135m-gguf", template_text=TEN_POINT_TEMPLATE)
    record = json.loads((folder / "records.jsonl").read_text())
    assert record["rubric"] == {"criteria": ["accuracy", "style"], "scale": [1, 10]}
    assert record["status"] == "ok", record["judgement"]
    for side in "AB":
        assert set(record["scores"][side]) == {"accuracy", "style"}
        assert all(1 <= v <= 10 for v in record["scores"][side].values())
    rows = score_rows(record)
    assert [row[0] for row in rows] == ["Accuracy", "Style", "Total (of 20)"]
    assert rows[-1][1:] == [format_score(record["totals"]["A"]), format_score(record["totals"]["B"])]
    summary = json.loads((folder / "summary.json").read_text())
    assert set(summary["stats"]["scores"]["A"]) == {"accuracy", "style", "total"}


def test_study_prompt_set_ships_the_ten_prompts():
    items = load_prompt_set("study")
    assert len(items) == 10
    assert items[0].prompt == "Describe step-by-step how to set up a tent in a windy environment."
    assert items[-1].prompt == "Outline a simple plan for a beginner to learn Spanish in 30 days."


def test_the_default_method_reads_probabilities_and_records_them(tmp_path):
    """The default llama.cpp judge reads its probabilities (method auto): pairwise, averaged over both orders."""
    _, folder = run(tmp_path, model_a="smollm2-135m-gguf", mode="pairwise")
    record = json.loads((folder / "records.jsonl").read_text())
    assert record["method"] == "probabilities" and record["status"] == "ok"
    probabilities = record["judgement"]["probabilities"]
    assert set(probabilities) == {"A", "B", "tie"} and sum(probabilities.values()) == pytest.approx(1, abs=1e-3)
    # The most probable verdict, unless P(A better) = P(A) + P(tie) / 2 is inside the band: too close to call.
    leader, p_a = max(probabilities, key=probabilities.get), probabilities["A"] + probabilities["tie"] / 2
    too_close = leader != "tie" and abs(p_a / sum(probabilities.values()) - 0.5) < DEFAULT_TIE_BAND
    assert record["margin"]["too_close"] is too_close and record["margin"]["p_a_better"] == pytest.approx(p_a, abs=1e-3)
    assert record["winner"] == ("tie" if too_close else leader)
    for order in record["judgement"]["orders"]:
        assert order["readings"] and order["call"]["raw_replies"][0].startswith("Relevance: A=")
    assert all(1 <= v <= 4 for v in record["scores"]["A"].values())


def test_the_parsed_method_is_still_there_on_request(tmp_path):
    _, folder = run(tmp_path, model_a="smollm2-135m-gguf", judge_method="parsed")
    record = json.loads((folder / "records.jsonl").read_text())
    assert record["method"] == "parsed" and record["judgement"]["A"]["call"]["constrained"] is True
    assert all(isinstance(v, int) for v in record["scores"]["A"].values())


def test_the_default_judge_scores_both_answers_alone_and_says_it_writes_no_reasons(tmp_path):
    from runs.views import reasons_markdown

    updates, folder = run(tmp_path, judge=DEFAULT_JUDGE, mode="pairwise")
    record = json.loads((folder / "records.jsonl").read_text())
    assert record["status"] == "ok" and record["method"] == "head" and record["judge"] == DEFAULT_JUDGE
    assert [o["order"] for o in record["judgement"]["orders"]] == ["AB", "BA"]
    assert record["judgement"]["consistent"] is True
    assert all(1 <= v <= 4 for side in "AB" for v in record["scores"][side].values())
    assert "scoring judge" in reasons_markdown(record)
    assert json.loads((folder / "run.json").read_text())["config"]["judge"] == "smollm2-135m-judge"
