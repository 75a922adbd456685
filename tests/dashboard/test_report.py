"""The HTML report (dashboard/report.py): totals at the tables' two decimals, no empty 'Reasons:' (a scoring judge's
record says why it has none), and plotly.js inline once, gzipped, so a report of 3 records is about 2 MB, not 4.85.
A hand-made run is the fast case; the real scoring judge on scripted answers is the other."""
import re

import pytest

from dashboard import report
from models.registry import unload_all
from runs.config import CompareConfig
from runs.pipeline import run_compare
from runs.prompt_sets import load_prompt_set
from runs.store import load_run

from run_builders import CRITERIA, make_record, write_run

MAX_BYTES = 4_000_000


def head_record(rid: str, a: float, b: float) -> dict:
    """A record as the shipped scoring judge writes one: expected scores with four decimals, no reasons."""
    record = make_record(rid, "p1", (3, 3, 3), (3, 3, 3), "A" if a > b else "B")
    record.update(method="head", judge="smollm2-135m-judge", reasons={"A": "", "B": ""},
                  rubric={"criteria": list(CRITERIA), "scale": [1, 4]},
                  scores={"A": dict(zip(CRITERIA, (a / 3,) * 3)), "B": dict(zip(CRITERIA, (b / 3,) * 3))},
                  totals={"A": a, "B": b})
    return record


def outside_scripts(text: str) -> str:
    return re.sub(r"<script.*?</script>", "", text, flags=re.S)


def check_report(path) -> str:
    text = path.read_text(encoding="utf-8")
    size = path.stat().st_size
    print(f"report of 3 records: {size / 1e6:.2f} MB")  # measured: 1.99 MB (plotly 7.1; it was 4.85 MB)
    assert size < MAX_BYTES, size
    assert text.count('id="plotly-js-gzip"') == 1 and "plotly.js v" not in text  # once, and only packed
    assert text.count('class="chart-spec"') == 4 and "Plotly.newPlot" in text
    shown = outside_scripts(text)
    assert not re.findall(r"\b\d+\.\d{3,}\b", shown), re.findall(r"\b\d+\.\d{3,}\b", shown)  # two decimals
    assert not re.search(r"Reasons:</i>\s*</p>", text)  # never an empty 'Reasons:'
    assert shown.count("is a scoring judge") == 3  # once per record instead
    return shown


def test_a_scoring_judge_s_report_has_two_decimals_no_empty_reasons_and_plotly_once(tmp_path):
    records = [head_record("q1", 6.2583, 6.4326), head_record("q2", 5.9795, 6.3403), head_record("q3", 5.4867, 6.3663)]
    folder = write_run(tmp_path, "scored", "2026-01-01T00:00:00+00:00", records)
    shown = check_report(report.html_report(load_run(folder), tmp_path / "report.html"))
    assert "total 6.26 of 12" in shown and "total 6.43 of 12" in shown


def test_written_reasons_are_shown_as_before(tmp_path):
    folder = write_run(tmp_path, "written", "2026-01-01T00:00:00+00:00", [make_record("q1", "p1", (4, 4, 4),
                                                                                       (3, 3, 3), "A")])
    text = report.html_report(load_run(folder), tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<p><i>Reasons:</i> A reasons q1</p>" in text and "no reasons" not in text


def test_echoed_reasons_show_as_none_with_the_reply_behind_a_disclosure(tmp_path):
    record = make_record("q1", "p1", (4, 4, 4), (3, 3, 3), "A")
    answer = ("To bake a chocolate cake without eggs, mix flour, cocoa, sugar and baking soda, then add oil, vinegar "
              "and water, and bake for thirty minutes.")
    record["answers"]["A"]["text"] = answer
    record["reasons"]["A"] = "A: <<< " + answer  # the writing judge's echo (judge/echo.py)
    folder = write_run(tmp_path, "echo", "2026-01-01T00:00:00+00:00", [record])
    text = report.html_report(load_run(folder), tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<p><i>Reasons:</i> (the judge wrote no reasons)</p><details>" in text
    assert "&lt;&lt;&lt; To bake" in text  # the reply itself, escaped, inside the disclosure
    assert "<p><i>Reasons:</i> B reasons q1</p>" in text  # real reasons are shown as before


def test_the_page_summary_and_the_report_give_the_win_rate_at_equal_length(tmp_path):
    from dashboard.summary_text import summary_markdown

    records = []
    for i in range(16):  # A's answer the longer in 12 pairs, winning 10 of them; B's in 4, B winning 3
        a_longer = i < 12
        winner = ("A" if i < 10 else "B") if a_longer else ("B" if i < 15 else "A")
        record = make_record(f"q{i}", "p1", (4, 4, 4) if winner == "A" else (2, 2, 2),
                             (2, 2, 2) if winner == "A" else (4, 4, 4), winner)
        short, long = 40 + 3 * i, 120 + 11 * i
        record["answers"]["A"]["n_tokens"], record["answers"]["B"]["n_tokens"] = (long, short) if a_longer else \
            (short, long)
        records.append(record)
    run = load_run(write_run(tmp_path, "lengthy", "2026-01-01T00:00:00+00:00", records))
    lc = run.summary["stats"]["length_controlled"]
    assert lc["raw"] == pytest.approx(11 / 16) and lc["rate"] < lc["raw"]
    line = (f"**Length-controlled win rate of A:** at equal length A would win {lc['rate']:.0%} of the decided "
            f"prompts (95% interval {lc['low']:.0%}-{lc['high']:.0%}, bootstrap over records")
    page = summary_markdown(run)
    assert f"- {line}" in page and "the raw 69% owes part of A's lead to A's longer answers" in page
    assert page.index("**Win rate of A:**") < page.index("**Length-controlled")  # beside the raw rate
    shown = outside_scripts(report.html_report(run, tmp_path / "report.html").read_text(encoding="utf-8"))
    assert line.replace("**", "<b>", 1).replace("**", "</b>", 1) in shown
    assert "the raw 69% owes part of A&#x27;s lead to A&#x27;s longer answers" in shown


def test_a_verdict_only_run_s_report_has_no_totals_of_0_and_concludes_on_the_win_rate(tmp_path):
    records = [make_record(f"q{i}", "p1", (3, 3, 3), (3, 3, 3), "A" if i < 6 else "B", "pairwise", True)
               for i in range(7)]
    for record in records:  # as Prometheus 2's relative grading writes them: a winner, no scores
        record.update(rubric={"criteria": [], "scale": [1, 5]}, scores={"A": {}, "B": {}},
                      totals={"A": None, "B": None})
    run = load_run(write_run(tmp_path, "verdicts", "2026-01-01T00:00:00+00:00", records, mode="pairwise"))
    text = report.html_report(run, tmp_path / "report.html").read_text(encoding="utf-8")
    assert "no detectable difference: the win rate's 95% interval includes 50%" in text  # the outcomes chart's title
    assert "scored prompts" not in text and "(of 0)" not in text  # nor do the charts count scores or totals
    shown = outside_scripts(text)
    assert shown.count("Model A — no score (the judge names the better answer)") == 7
    assert "<b>Scores:</b> no scores (the judge names the better answer), so the win rate above is the result" in shown
    assert ("<b>Conclusion:</b> No detectable difference between A and B: A won 86% of the 7 decided prompts (95% "
            "interval 49%-97%, ties counted half), an interval that includes 50%; the judge names the better answer "
            "and gives no scores, so no paired difference in totals can be given.") in shown
    assert "of 0" not in shown and "unparsed" not in shown and "Mean total" not in shown
    assert "Too few prompts with both answers scored" not in shown


@pytest.mark.model
def test_the_report_of_a_real_scoring_judge_run(tmp_path):
    unload_all()
    config = CompareConfig(model_a="scripted:A short answer about cakes.||Another answer from A.||Third A.",
                           model_b="scripted:B says something else.||B two.||B three, longer than the others.",
                           judge="smollm2-135m-judge", out_dir=str(tmp_path))
    *_, done = run_compare(config, load_prompt_set("study")[:3])
    run = load_run(done.run_dir)
    assert all(r["method"] == "head" and not any(r["reasons"].values()) for r in run.records)
    assert any(isinstance(r["totals"]["A"], float) and r["totals"]["A"] != round(r["totals"]["A"], 2)
               for r in run.records)  # four decimals in the records: the report is what rounds them
    check_report(report.html_report(run, tmp_path / "report.html"))
    unload_all()
