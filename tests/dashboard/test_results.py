"""The results dashboard's data layer and exports, on hand-made run folders (no models)."""
import csv
import json
from html.parser import HTMLParser

import pytest

from dashboard import charts, exports, report
from dashboard.diff import compare_runs
from dashboard.filters import disagreement_keys, prompt_rows, record_detail
from dashboard.history import history
from dashboard.summary_text import summary_markdown
from runs.store import list_runs, load_run

from run_builders import make_record, write_demo_runs, write_run


@pytest.fixture
def runs(tmp_path):
    return write_demo_runs(tmp_path)


def test_list_runs_newest_first_with_counts(tmp_path, runs):
    (tmp_path / "not-a-run").mkdir()
    infos = list_runs(tmp_path)
    assert [i.folder for i in infos] == ["run-three", "run-two", "run-one"]
    three, two, one = infos
    assert not three.finished and two.finished and one.finished
    assert one.n == 8 and one.mode == "single" and two.mode == "pairwise"
    assert one.wins == {"A": 4, "B": 2, "tie": 1, "unknown": 1}
    assert one.mean_total["A"] == pytest.approx(71 / 7, abs=1e-3)
    assert one.models == {"A": "model-a", "B": "model-b", "judge": "judge-x"}
    assert "unfinished" in three.label()
    assert list_runs(tmp_path / "missing") == []


def test_load_run_summarises_an_unfinished_run(runs):
    run = load_run(runs[2])
    assert not run.finished and not (runs[2] / "summary.json").exists()
    assert run.summary["n"] == 2 and run.summary["wins"]["B"] == 1
    assert run.summary["stats"]["win_rate"]["rate"] == pytest.approx(0.25)
    assert "unfinished" in summary_markdown(run)
    assert "- **Length-controlled win rate of A:** not enough data: 2 decided records with answer lengths, at least " \
           "8 needed" in summary_markdown(run)


def test_prompt_rows_and_filters(runs):
    run1, run2 = load_run(runs[0]), load_run(runs[1])
    rows = prompt_rows(run1)
    assert len(rows) == 8
    assert rows[0] == ["q1", "p1", "demo", "12", "9", "A", "", "2/2", "1/2"]
    assert rows[4][3] == "unparsed" and rows[4][5] == "unknown"
    # q1..q3 change winner across presets (or have ties / no verdict); q4 is A under both presets.
    assert disagreement_keys(run1.records) == {(q, p) for q in ("q1", "q2", "q3") for p in ("p1", "p2")}
    assert [r[0] for r in prompt_rows(run1, "disagreements")] == ["q1", "q1", "q2", "q2", "q3", "q3"]
    assert [r[:2] for r in prompt_rows(run1, "unparsed")] == [["q3", "p1"]]
    assert prompt_rows(run1, "inconsistent") == []
    assert [r[0] for r in prompt_rows(run2, "inconsistent")] == ["q2"]
    assert prompt_rows(run2, "inconsistent")[0][6] == "no"
    # a one-preset run: only ties and missing verdicts are disagreements
    assert [r[0] for r in prompt_rows(run2, "disagreements")] == ["q2", "q4"]
    with pytest.raises(ValueError):
        prompt_rows(run1, "bogus")


def test_record_detail_has_both_answers_and_reasons(runs):
    detail = record_detail(load_run(runs[0]), "q2", "p2")
    assert detail["answer_A"].startswith("Answer A to q2") and detail["answer_B"].startswith("Answer B to q2")
    assert detail["prompt"] == "Prompt q2?" and "Winner: A" in detail["verdict"]
    assert detail["scores"][-1] == ["Total (of 12)", "11", "6"]
    with pytest.raises(KeyError):
        record_detail(load_run(runs[0]), "nope", "p1")


def test_compare_runs_matches_by_id_and_preset(runs):
    result = compare_runs(load_run(runs[0]), load_run(runs[1]))
    assert result["changes"] == [
        ["q1", "p1", "A", "A", 0, 0, False],
        ["q2", "p1", "tie", "tie", -1, 0, False],
        ["q3", "p1", "unknown", "A", None, -1, True],
        ["q4", "p1", "A", "unknown", None, None, True],
    ]
    assert result["n_matched"] == 4 and result["n_winner_changed"] == 2
    assert result["only_before"] == [(q, "p2") for q in ("q1", "q2", "q3", "q4")] and result["only_after"] == []
    agg = result["aggregate"]
    # run 1: A won 4, tied 1, lost 2 of 7 decided; run 2: A won 2, tied 1 of 3 decided
    assert agg["win_rate_A"]["before"] == pytest.approx(4.5 / 7)
    assert agg["win_rate_A"]["after"] == pytest.approx(2.5 / 3)
    assert agg["win_rate_A"]["delta"] == pytest.approx(2.5 / 3 - 4.5 / 7, abs=1e-4)
    assert agg["mean_total_A"]["delta"] == pytest.approx(31 / 3 - 71 / 7, abs=2e-3)
    assert agg["mean_total_B"]["before"] == pytest.approx(66 / 8, abs=1e-3)  # 9+10+10+6+9+9+6+7
    assert agg["mean_total_B"]["after"] == pytest.approx(27 / 3, abs=1e-3)
    assert agg["unparsed"] == {"before": 1, "after": 1, "delta": 0}


def test_history_oldest_first(tmp_path, runs):
    points = history(tmp_path, "win_rate_A")
    assert [p[0][:10] for p in points] == ["2026-01-01", "2026-01-02", "2026-01-03"]
    assert [round(p[1], 4) for p in points] == [round(4.5 / 7, 4), round(2.5 / 3, 4), 0.25]
    assert [p[1] for p in history(tmp_path, "unparsed")] == [1, 1, 0]
    assert [p[1] for p in history(tmp_path, "consistency")] == [pytest.approx(2 / 3)]  # only the pairwise run
    with pytest.raises(ValueError):
        history(tmp_path, "nope")


def test_export_csv_and_json(tmp_path, runs):
    run = load_run(runs[0])
    rows = list(csv.DictReader(open(exports.export_csv(run, tmp_path / "run.csv"), encoding="utf-8")))
    assert len(rows) == 8
    assert rows[0]["id"] == "q1" and rows[0]["preset"] == "p1" and float(rows[0]["total_A"]) == 12
    assert float(rows[0]["relevance_B"]) == 3 and float(rows[0]["checks_passed_B"]) == 1 and rows[0]["winner"] == "A"
    assert rows[0]["answer_A"].startswith("Answer A to q1") and rows[0]["reasons_B"] == "B reasons q1"
    data = json.loads(exports.export_json(run, tmp_path / "run.json").read_text(encoding="utf-8"))
    assert data["run"] == "run-one" and len(data["records"]) == 8 and data["summary"]["n"] == 8
    assert data["manifest"]["config"]["mode"] == "single"


def external_sources(text: str) -> list[str]:
    """src/href of every tag outside script bodies (what a browser would fetch when the page opens)."""
    found = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.extend(v or "" for k, v in attrs if k in ("src", "href"))

    Collect().feed(text)
    return found


def test_html_report_is_one_offline_file(tmp_path, runs):
    run = load_run(runs[1])
    path = report.html_report(run, tmp_path / "report.html")
    text = path.read_text(encoding="utf-8")
    assert [p.name for p in tmp_path.glob("report*")] == ["report.html"]
    assert '<script src="http' not in text
    assert not [src for src in external_sources(text) if "://" in src or src.startswith("//")]
    assert "Plotly.newPlot" in text and len(text) > 1_000_000  # plotly.js itself is inline
    for rid in ("q1", "q2", "q3", "q4"):
        assert f">{rid}<" in text
    assert "Answer B to q3" in text and "Win rate of A" in text


def test_figures_build_for_every_run(runs):
    for folder in runs:
        figs = charts.figures(load_run(folder))
        assert set(figs) == {"criteria", "wins", "distribution", "length"}
        assert all(fig.data for fig in figs.values())


def test_bradley_terry_ranking_over_three_models_from_three_runs(tmp_path):
    from dashboard.ranking import model_ranking, ranking_markdown

    def duel(a, b, winners):
        return [{**make_record(f"q{i}", "p1", (3, 3, 3), (3, 3, 3), w), "model_a": a, "model_b": b}
                for i, w in enumerate(winners)]
    # m1 beats m2 3-0, m2 beats m3 3-0, m1 beats m3 2-0 with a tie: the order must be m1 > m2 > m3
    folders = [write_run(tmp_path, name, f"2026-11-0{i}T10:00:00", recs) for i, (name, recs) in enumerate([
        ("one", duel("m1", "m2", "AAA")), ("two", duel("m2", "m3", "AAA")), ("three", duel("m1", "m3", ["A", "A", "tie"])),
    ], 1)]
    runs = [load_run(f) for f in folders]
    ranking = model_ranking(runs)
    assert ranking.ranking == ["m1", "m2", "m3"]
    for score in ranking.models.values():
        assert score.low <= score.score <= score.high
    assert ranking_markdown(runs).splitlines()[2].startswith("| 1 | `m1` |")


def test_ranking_names_entries_by_preset_when_presets_vary(runs):
    from dashboard.ranking import ranking_comparisons

    names = {name for c in ranking_comparisons([load_run(runs[0])]) for name in c[:2]}
    assert names == {"model-a @ p1", "model-b @ p1", "model-a @ p2", "model-b @ p2"}


def test_summary_shows_judge_agreement_with_human_votes(runs):
    from runs.votes import record_vote

    run = load_run(runs[0])
    assert "Judge vs people" not in summary_markdown(run)
    record_vote(run.folder, "q1", "A", preset="p1")  # the judge also said A
    record_vote(run.folder, "q2", "B", preset="p1")  # the judge said tie
    text = summary_markdown(load_run(runs[0]))
    assert "Judge vs people:** agrees on 50% of 2 voted records" in text


def test_answers_stopped_at_the_same_length_and_total_are_one_point_with_their_count(tmp_path):
    records = []
    for n in range(4):
        record = make_record(f"c{n}", "p1", (3, 3, 3), (2, 2, 2), "A")
        for side in ("A", "B"):
            record["answers"][side]["n_tokens"] = 48  # every answer hit the token cap
        records.append(record)
    figure = charts.length_figure(load_run(write_run(tmp_path, "capped", "2026-02-01T00:00:00+00:00", records)))
    by_side = {trace.name: trace for trace in figure.data}
    assert list(by_side["Model A"].x) == [48] and list(by_side["Model A"].text) == ["×4"]
    assert figure.layout.yaxis.dtick == 1 and figure.layout.title.text.startswith("Do longer answers score higher?")


def test_the_per_prompt_table_leaves_out_columns_the_run_never_fills(tmp_path, runs):
    from dashboard.filters import prompt_table

    plain = [make_record(f"p{n}", "p1", (3, 3, 3), (2, 2, 2), "A") for n in range(2)]
    for record in plain:
        record["category"] = ""
    headers, rows = prompt_table(load_run(write_run(tmp_path, "plain", "2026-02-02T00:00:00+00:00", plain)))
    assert headers == ["id", "preset", "total A", "total B", "winner"] and len(rows[0]) == 5
    headers, _ = prompt_table(load_run(runs[0]))  # single mode with checks on one prompt
    assert "checks A" in headers and "consistent" not in headers
    assert "consistent" in prompt_table(load_run(runs[1]))[0]  # the pairwise run
