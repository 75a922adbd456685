"""Prometheus 2's templates through the whole product with scripted models and judges: `compare --template NAME`, a
prompt set's `reference` and `rubric` reaching the judge, one overall score shown as one criterion, a relative
verdict shown without scores (never as unparsed, never as a total of 0), the summary, the report and the exports."""
import csv
import json

import pytest

from dashboard import charts, exports, report
from dashboard.filters import prompt_table, record_detail
from dashboard.summary_text import summary_markdown
from judge.rubric import Rubric
from models.registry import load_model, unload_all
from runs.cli import main
from runs.prompt_sets import PromptSetError, load_prompt_set
from runs.store import load_run, read_records
from runs.views import batch_row, record_line, score_rows, scores_label, verdict_line

MODEL_A, MODEL_B = "scripted:Whisk oil, vinegar and flour; bake 30 minutes.", "scripted:Lima is in Peru."
RUBRIC = "[Is the cake egg-free?]\nScore 1: no\nScore 2: barely\nScore 3: mostly\nScore 4: yes\nScore 5: fully"
ITEMS = [
    {"id": "cake", "prompt": "Bake a cake without eggs.", "reference": "Use oil and vinegar instead of eggs.",
     "rubric": RUBRIC},
    {"id": "tent", "prompt": "Set up a tent in the wind."},
]


@pytest.fixture(autouse=True)
def fresh_models():
    """Scripted judges keep the conversations they were sent: every test starts with none."""
    unload_all()
    yield
    unload_all()


@pytest.fixture
def prompt_file(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(json.dumps(item) for item in ITEMS) + "\n", encoding="utf-8")
    return path


def compare(tmp_path, prompt_file, capsys, template: str, judge: str, *flags) -> tuple:
    """(the run folder, its records, the CLI's stderr)."""
    code = main(["compare", "--prompts", str(prompt_file), "--model-a", MODEL_A, "--model-b", MODEL_B,
                 "--judge", judge, "--template", template, "--out", str(tmp_path / "runs"), "--no-cache", *flags])
    out, err = capsys.readouterr()
    assert code == 0, err
    folder = out.strip().splitlines()[-1]
    return folder, read_records(folder), err


def test_the_prompt_set_s_rubric_and_reference_are_read_and_checked(prompt_file, tmp_path):
    cake, tent = load_prompt_set(prompt_file)
    assert (cake.rubric, cake.reference, tent.rubric, tent.reference) == (RUBRIC, ITEMS[0]["reference"], "", "")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": "p", "rubric": ["not", "text"]}) + "\n", encoding="utf-8")
    with pytest.raises(PromptSetError, match="rubric must be text"):
        load_prompt_set(bad)


def test_absolute_grading_end_to_end_is_one_overall_score_per_answer(tmp_path, prompt_file, capsys):
    judge = "scripted:Egg-free and clear. [RESULT] 4||Off topic. [RESULT] 1"
    folder, records, err = compare(tmp_path, prompt_file, capsys, "prometheus_absolute", judge)
    sent = [call[1]["content"] for call in load_model(judge).calls]
    # The cake prompt's own rubric and reference answer; the tent prompt's default rubric, graded without reference.
    assert RUBRIC in sent[0] and "###Reference Answer (Score 5):\nUse oil and vinegar" in sent[0]
    assert RUBRIC not in sent[2] and "###Reference Answer" not in sent[2] and "Score 5: The response" in sent[2]
    for record in records:
        assert record["rubric"] == {"criteria": ["overall"], "scale": [1, 5]}
        assert record["scores"] == {"A": {"overall": 4}, "B": {"overall": 1}} and record["totals"] == {"A": 4, "B": 1}
        assert record["winner"] == "A" and record["reasons"] == {"A": "Egg-free and clear.", "B": "Off topic."}
        assert score_rows(record) == [["Overall", "4", "1"], ["Total (of 5)", "4", "1"]]
    assert "cake: A 4/5  B 1/5  winner A" in err
    run = load_run(folder)
    assert run.summary["rubric"] == {"criteria": ["overall"], "scale": [1, 5]}
    assert run.summary["mean_total"] == {"A": 4.0, "B": 1.0} and run.summary["unparsed"] == 0
    assert "overall (1-5)" in summary_markdown(run)
    assert list(charts.figures(run))  # every chart draws on one criterion
    with open(exports.export_csv(run, tmp_path / "run.csv"), encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["overall_A"], r["overall_B"]) for r in rows] == [("4", "1")] * 2


def test_relative_grading_end_to_end_is_a_verdict_without_scores(tmp_path, prompt_file, capsys):
    # The judge prefers the recipe in both orders: "A" when it is shown first, "B" when it is shown second.
    judge = "scripted:Feedback: A bakes a cake; B does not. [RESULT] A||Feedback: B bakes a cake. [RESULT] B"
    folder, records, err = compare(tmp_path, prompt_file, capsys, "prometheus_relative", judge, "--mode", "pairwise")
    sent = [call[1]["content"] for call in load_model(judge).calls]
    assert "###Reference Answer:\nUse oil and vinegar" in sent[0] and "###Score Rubric:\n" + RUBRIC in sent[0]
    assert "###Reference Answer" not in sent[2] and "###Score Rubric:\n[Is the response relevant" in sent[2]
    for record in records:
        assert (record["status"], record["winner"], record["consistent"]) == ("ok", "A", True)
        assert record["rubric"]["criteria"] == [] and record["scores"] == {"A": {}, "B": {}}
        assert record["totals"] == {"A": None, "B": None} and "margin" not in record  # a written verdict stands
        assert score_rows(record) == [["(no scores: the judge names the better answer)", "–", "–"]]
        assert "unparsed" not in record_line(0, 2, record) and batch_row(record)[2:] == ["–", "–", "A"]
        assert verdict_line(record) == "Winner: A (consistent in both orders)"
    assert "tent: A –  B –  winner A" in err
    run = load_run(folder)
    assert run.summary["wins"]["A"] == 2 and run.summary["unparsed"] == 0
    assert run.summary["mean_total"] == {"A": None, "B": None}
    assert "no scores (the judge names the better answer)" in summary_markdown(run)
    assert "unparsed" not in " ".join(map(str, record_detail(run, "cake")["scores"]))
    assert [row[2:5] for row in prompt_table(run)[1]] == [["–", "–", "A"]] * 2  # the Results tab's table
    path = report.html_report(run, tmp_path / "report.html")
    assert "Egg-free" not in path.read_text(encoding="utf-8") and "B bakes a cake." in path.read_text(encoding="utf-8")


def test_an_unparsed_relative_reply_stays_unparsed(tmp_path, prompt_file, capsys):
    judge = "scripted:Both are fine, I would pick A."
    _, records, err = compare(tmp_path, prompt_file, capsys, "prometheus_relative", judge, "--mode", "pairwise")
    assert all((r["status"], r["winner"]) == ("unparsed", None) for r in records)
    assert "winner unknown" in err


def test_a_verdict_only_rubric_reads_back_as_one_and_says_so():
    rubric = Rubric.from_dict({"criteria": [], "scale": [1, 4]})
    assert rubric.criteria == () and not rubric.scored and rubric.max_total == 0
    assert Rubric.from_dict({"scale": [1, 4]}).criteria == ("relevance", "coherence", "completeness")
    assert scores_label(rubric, "pairwise") == "Scores: none (no scores: the judge names the better answer)"
    assert scores_label(Rubric(("overall",), (1, 5))) == "Scores (1-5 per criterion, total of 5)"
