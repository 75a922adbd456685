"""Prometheus 2's templates through the whole product with scripted models and judges: `compare --template NAME`, a
prompt set's `reference` and `rubric` reaching the judge, one overall score shown as one criterion, a relative
verdict shown without scores (never as unparsed, never as a total of 0), the summary, the report and the exports; a
verdict-only run concluded on its win rate with its interval, and its length-controlled win rate."""
import csv
import json
import re

import pytest

from dashboard import charts, exports, report
from dashboard.filters import prompt_table, record_detail
from dashboard.summary_text import summary_markdown
from judge.rubric import Rubric
from models.registry import load_model
from runs.cli import main
from runs.conclusion import closing_markdown
from runs.prompt_sets import PromptSetError, load_prompt_set
from runs.store import load_run, read_records
from runs.views import batch_row, record_line, score_rows, scores_label, verdict_line

pytestmark = pytest.mark.usefixtures("fresh_models")  # scripted models start from their first reply

MODEL_A, MODEL_B = "scripted:Whisk oil, vinegar and flour; bake 30 minutes.", "scripted:Lima is in Peru."
RUBRIC = "[Is the cake egg-free?]\nScore 1: no\nScore 2: barely\nScore 3: mostly\nScore 4: yes\nScore 5: fully"
ITEMS = [
    {"id": "cake", "prompt": "Bake a cake without eggs.", "reference": "Use oil and vinegar instead of eggs.",
     "rubric": RUBRIC},
    {"id": "tent", "prompt": "Set up a tent in the wind."},
]


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


def verdict_only_run(tmp_path, capsys, b_wins: set) -> tuple:
    """A pairwise prometheus_relative run of 10 prompts, A's answer the longer the later the prompt, the judge
    preferring B (in both orders) on the prompts numbered in `b_wins` and A on the rest: (the run folder, the CLI's
    stderr)."""
    path = tmp_path / "ten.jsonl"
    path.write_text("".join(json.dumps({"id": f"q{i}", "prompt": f"Question {i}?"}) + "\n" for i in range(10)),
                    encoding="utf-8")
    answers_a = "scripted:" + "||".join("word " * (5 + 3 * i) for i in range(10))
    answers_b = "scripted:" + "||".join("other " * (20 - i) for i in range(10))
    judge = "scripted:" + "||".join(f"Feedback: fine. [RESULT] {first}||Feedback: fine. [RESULT] {second}"
                                    for first, second in (("B", "A") if i in b_wins else ("A", "B") for i in range(10)))
    code = main(["compare", "--prompts", str(path), "--model-a", answers_a, "--model-b", answers_b, "--judge", judge,
                 "--template", "prometheus_relative", "--mode", "pairwise", "--out", str(tmp_path / "runs"),
                 "--no-cache"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out.strip().splitlines()[-1], err


def test_a_verdict_only_run_concludes_on_its_win_rate_everywhere_never_on_totals_of_0(tmp_path, capsys):
    folder, err = verdict_only_run(tmp_path, capsys, {4})
    run = load_run(folder)
    assert not run.rubric.scored and run.summary["wins"] == {"A": 9, "B": 1, "tie": 0, "unknown": 0}
    said = ("A is better: A won 90% of the 10 decided prompts (95% interval 60%-98%, ties counted half), an interval "
            "that excludes 50%; the judge names the better answer and gives no scores, so no paired difference in "
            "totals can be given.")
    closing = err[err.index("summary: 10 records"):]  # the CLI's closing summary
    assert "A won 9, B won 1, 0 ties, 0 without a verdict; no scores: the judge names the better answer" in closing
    assert f"conclusion: {said}" in closing and "length-controlled win rate of A: at equal length A would win" in closing
    page = summary_markdown(run)  # the Results page
    assert f"**Conclusion:** {said}" in page and "**Length-controlled win rate of A:** at equal length" in page
    assert "- **Scores:** no scores (the judge names the better answer), so the win rate above is the result" in page
    batch = closing_markdown(folder)  # the Batch tab's finished status
    assert batch.startswith("**Scores:** none: the judge names the better answer") and f"**Conclusion:** {said}" in batch
    assert "wins" in charts.figures(run) and "A is better: the win rate's 95% interval excludes 50%" in \
        charts.figures(run)["wins"].layout.title.text
    shown = re.sub(r"<script.*?</script>", "", report.html_report(run, tmp_path / "r.html").read_text(encoding="utf-8"),
                   flags=re.S)
    assert shown.count("Model A — no score (the judge names the better answer)") == 10 and said in shown
    for text in (closing, page, batch, shown):
        assert "of 0" not in text and "unparsed" not in text and "Mean total" not in text and "mean total" not in text
        assert "scored (0)" not in text and "parsed totals" not in text  # no band of totals either


def test_a_verdict_only_run_without_a_clear_winner_or_with_few_prompts_says_so(tmp_path, capsys, prompt_file):
    folder, err = verdict_only_run(tmp_path, capsys, {1, 4, 6, 8})
    assert ("conclusion: No detectable difference between A and B: A won 60% of the 10 decided prompts (95% interval "
            "31%-83%, ties counted half), an interval that includes 50%; the judge names the better answer") in err
    assert "no detectable difference: the win rate's 95% interval includes 50%" in \
        charts.figures(load_run(folder))["wins"].layout.title.text
    folder, _, err = compare(tmp_path, prompt_file, capsys, "prometheus_relative",
                             "scripted:Feedback: A. [RESULT] A||Feedback: B. [RESULT] B", "--mode", "pairwise")
    assert ("conclusion: Too few decided prompts (2) for an interval on A's win rate, so whether A or B is better "
            "cannot be told yet: run a prompt set of at least 5; the judge names the better answer") in err
    assert "not enough data" in closing_markdown(folder) and "scored (0)" not in err
