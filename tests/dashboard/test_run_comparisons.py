"""The Results tab's comparisons across runs (no models): another run with no prompt in common, a history whose
runs were judged by different judges, and a Bradley-Terry ranking whose tied models share a rank."""
import json
import re

from analysis.ranking import bradley_terry_with_ci
from dashboard.diff import compare_markdown, compare_runs
from dashboard.history import history, history_points, judges_note
from dashboard.ranking import ranking_markdown
from runs.store import load_run

from run_builders import RUN1, make_record, write_run


def judged_by(folder, judge: str):
    """The run as if `judge` had judged it (write_run names one judge for every run)."""
    manifest = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    manifest["config"]["judge"] = judge
    (folder / "run.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def test_runs_without_a_prompt_in_common_get_a_message_and_no_change_table(tmp_path):
    before = write_run(tmp_path, "before", "2026-01-01T00:00:00+00:00", RUN1)
    other = [make_record(f"x{i}", "p1", (4, 4, 4), (1, 1, 1), "A") for i in range(2)]
    after = write_run(tmp_path, "after", "2026-01-02T00:00:00+00:00", other)
    result = compare_runs(load_run(before), load_run(after))
    assert result["n_matched"] == 0 and result["changes"] == [] and result["aggregate"] == {}
    text = compare_markdown(result, "before", "after")
    assert "no prompt in common" in text and "8" in text and "2" in text  # what each run has
    assert "| metric |" not in text and "win rate" not in text.lower()  # no deltas of unrelated prompts
    matched = compare_markdown(compare_runs(load_run(before), load_run(before)), "before", "before")
    assert "| metric |" in matched  # the table stays where prompts match


def test_history_says_when_its_runs_were_judged_by_different_judges(tmp_path):
    write_run(tmp_path, "one", "2026-01-01T00:00:00+00:00", RUN1)
    two = write_run(tmp_path, "two", "2026-01-02T00:00:00+00:00", RUN1)
    points = history_points(tmp_path, "win_rate_A")
    assert [p.judge for p in points] == ["judge-x", "judge-x"]
    assert judges_note(points) == "All 2 run(s) were judged by `judge-x`."
    judged_by(two, "smollm2-135m-judge")
    points = history_points(tmp_path, "win_rate_A")
    assert [(p.run, p.judge) for p in points] == [("one", "judge-x"), ("two", "smollm2-135m-judge")]
    note = judges_note(points)
    assert "judged by 2 different judges" in note and "`judge-x` (1 run)" in note
    assert "`smollm2-135m-judge` (1 run)" in note and "not on one scale" in note
    assert history(tmp_path, "win_rate_A") == [(p.created, p.value) for p in points]  # the chart's points
    assert judges_note([]) == ""


def versus(a: str, b: str, winner: str, rid: str) -> dict:
    return {**make_record(rid, "p1", (3, 3, 3), (3, 3, 3), winner), "model_a": a, "model_b": b}


def test_models_with_equal_strengths_share_a_rank_and_show_their_intervals(tmp_path):
    folder = write_run(tmp_path, "even", "2026-01-01T00:00:00+00:00",
                       [versus("model-a", "model-b", "A", "q1"), versus("model-a", "model-b", "B", "q2")])
    text = ranking_markdown([load_run(folder)])
    rows = [line for line in text.splitlines() if "`model-" in line]
    assert rows[0].startswith("| 1= | `model-a` | 1.00 |") and rows[1].startswith("| 1= | `model-b` | 1.00 |"), text
    assert all(re.search(r"\| \d\.\d\d-\d\.\d\d \|$", line) for line in rows), rows  # each interval shown
    assert "equal strengths" in text and "intervals overlap" in text


def test_a_stronger_model_ranks_alone_and_tied_ones_below_it_share_the_next_rank():
    comparisons = [("top", "left"), ("top", "right"), ("left", "right"), ("right", "left")] * 3
    ranking = bradley_terry_with_ci(comparisons, seed=0, resamples=50)
    assert ranking.ranking[0] == "top"
    assert ranking.ranks() == {"top": 1, "left": 2, "right": 2}
    lopsided = bradley_terry_with_ci([("a", "b")] * 3 + [("b", "c")] * 3, seed=0, resamples=50)
    assert lopsided.ranks() == {"a": 1, "b": 2, "c": 3}  # no ties: every place its own
