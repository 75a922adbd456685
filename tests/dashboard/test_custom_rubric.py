"""The rubric comes from the template everywhere: a template with two criteria on a 1-10 scale, run through the
pipeline (scripted models and judge, so the scores are known) and then every view of it: the Compare table, the
CLI line, the Batch table, summary.json, the run summary in words, the charts, the CSV and the HTML report.
The same template on the real embedded judge is in tests/runs/test_compare_e2e.py."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard.charts import criteria_figure, distribution_figure
from dashboard.exports import export_run
from dashboard.filters import record_detail
from dashboard.summary_text import summary_markdown
from models.registry import unload_all
from runs.config import CompareConfig
from runs.pipeline import run_compare
from runs.prompt_sets import PromptItem
from runs.store import load_run
from runs.views import batch_row, record_line, score_rows, scores_label

REPO_ROOT = Path(__file__).resolve().parents[2]
TEN_POINT = {
    "single": """name: two-criteria
mode: single
criteria: [accuracy, style]
scale: [1, 10]
template: "Grade the answer.\\nQuestion: {prompt}\\nAnswer: {answer}\\n{output_format}"
output_format: "Accuracy: <1-10>\\nStyle: <1-10>\\nReasons: <one sentence>"
""",
    "pairwise": """name: two-criteria-pairwise
mode: pairwise
criteria: [accuracy, style]
scale: [1, 10]
template: "Compare.\\nQuestion: {prompt}\\nA: {answer_a}\\nB: {answer_b}\\n{output_format}"
output_format: "Accuracy: A=<1-10> B=<1-10>\\nStyle: A=<1-10> B=<1-10>\\nVerdict: [[A]] or [[B]] or [[tie]]\\nReasons: <one sentence>"
""",
}
JUDGES = {
    # A: accuracy 9, style 7 (16 of 20); B: accuracy 3, style 10 (13 of 20)
    "single": "scripted:Accuracy: 9\\nStyle: 7\\nReasons: precise||Accuracy: 3\\nStyle: 10\\nReasons: pretty",
    # both orders give the first answer shown 9/7 and the second 3/10 and prefer the first: an inconsistent tie,
    # with mean scores of 6 and 8.5 for both
    "pairwise": "scripted:Accuracy: A=9 B=3\\nStyle: A=7 B=10\\nVerdict: [[A]]\\nReasons: first",
}
EXPECTED_ROWS = {
    "single": [["Accuracy", "9", "3"], ["Style", "7", "10"], ["Total (of 20)", "16", "13"]],
    "pairwise": [["Accuracy", "6", "6"], ["Style", "8.5", "8.5"], ["Total (of 20)", "14.5", "14.5"]],
}


@pytest.fixture(params=["single", "pairwise"])
def ten_point_run(request, tmp_path):
    unload_all()
    mode = request.param
    config = CompareConfig(model_a="scripted:Answer A", model_b="scripted:Answer B", judge=JUDGES[mode], mode=mode,
                           template_text=TEN_POINT[mode], out_dir=str(tmp_path))
    updates = list(run_compare(config, [PromptItem(id="q1", prompt="What is 2 + 2?")]))
    unload_all()
    return mode, load_run(updates[-1].run_dir)


def test_compare_table_cli_line_and_batch_row(ten_point_run):
    mode, run = ten_point_run
    (record,) = run.records
    assert record["rubric"] == {"criteria": ["accuracy", "style"], "scale": [1, 10]}
    assert score_rows(record) == EXPECTED_ROWS[mode]
    assert scores_label(run.rubric) == "Scores (1-10 per criterion, total of 20)"
    total_a, total_b = EXPECTED_ROWS[mode][-1][1:]
    assert f"A {total_a}/20  B {total_b}/20" in record_line(0, 1, record)
    assert batch_row(record)[2:4] == [f"{total_a}/20", f"{total_b}/20"]
    assert record_detail(run, "q1")["scores"] == EXPECTED_ROWS[mode]


def test_summary_json_has_every_criterion_of_the_template(ten_point_run):
    mode, run = ten_point_run
    summary = json.loads((run.folder / "summary.json").read_text())
    assert summary["rubric"] == {"criteria": ["accuracy", "style"], "scale": [1, 10]}
    scores = summary["stats"]["scores"]
    assert set(scores["A"]) == {"accuracy", "style", "total"}
    expected_a = {"single": (9, 7, 16), "pairwise": (6, 8.5, 14.5)}[mode]
    assert (scores["A"]["accuracy"]["mean"], scores["A"]["style"]["mean"], scores["A"]["total"]["mean"]) == expected_a
    assert summary["unparsed"] == 0


def test_summary_text_and_charts_use_the_scale(ten_point_run):
    _, run = ten_point_run
    text = summary_markdown(run)
    assert "Mean total (of 20)" in text and "accuracy and style (1-10 each, total of 20)" in text
    assert "of 12" not in text
    figure = criteria_figure(run)
    assert list(figure.data[0].x) == ["Accuracy", "Style"] and "(1-10)" in figure.layout.title.text
    assert figure.layout.yaxis.range[1] > 10
    assert "(of 20)" in distribution_figure(run).layout.title.text


def test_csv_and_html_report_use_the_template_criteria(ten_point_run, tmp_path):
    mode, run = ten_point_run
    rows = list(csv.DictReader(open(export_run(run, "csv", tmp_path), encoding="utf-8")))
    assert float(rows[0]["accuracy_A"]) == {"single": 9, "pairwise": 6}[mode]
    assert "relevance_A" not in rows[0]
    report = export_run(run, "html", tmp_path).read_text(encoding="utf-8")
    assert "Mean total (of 20)" in report and "of 20</h4>" in report


def test_the_cli_prints_totals_out_of_the_template_maximum(tmp_path):
    template = tmp_path / "ten.yaml"
    template.write_text(TEN_POINT["single"], encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "judge", "compare", "--prompt", "What is 2 + 2?", "--model-a", "scripted:four",
         "--model-b", "scripted:five", "--judge", JUDGES["single"], "--template", str(template),
         "--out", str(tmp_path / "out")], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "A 16/20  B 13/20  winner A" in done.stderr
