"""The Judge Lab's views of a validation (dashboard/judge_lab.py and the tab's stream of statuses): the method that
ran beside the one ticked, with why; no calibration plot where no judge states probabilities. Scripted judges give
known verdicts; the real default judge (a scoring head) shows the head case."""
import pytest

from basics import PROMPTS_DIR
from dashboard.judge_lab import calibration_figure, calibration_note, method_notes, metrics_table
from lab.validation import ValidationConfig, load_validation, run_validation
from runs.config import DEFAULT_JUDGE

pytestmark = pytest.mark.usefixtures("fresh_models")  # scripted models start from their first reply

PAIRS = PROMPTS_DIR / "validation" / "good_vs_broken_pairs.jsonl"
ALWAYS_A = ("scripted:Relevance: A=4 B=1\\nCoherence: A=4 B=1\\nCompleteness: A=4 B=1\\nVerdict: [[A]]\\n"
            "Reasons: first")


def validate(tmp_path, judges, methods, limit=2):
    updates = list(run_validation(ValidationConfig(data=str(PAIRS), judges=judges, methods=methods, limit=limit,
                                                   out_dir=str(tmp_path))))
    return load_validation(updates[-1].folder), updates


def test_auto_says_which_method_it_ran_and_why(tmp_path):
    run, _ = validate(tmp_path, [ALWAYS_A], ["auto"])
    headers, rows = metrics_table(run)
    method = rows[0][headers.index("method")]
    assert method == "parsed (ticked: auto)"  # a scripted judge reads no token probabilities
    (note,) = method_notes(run)
    assert "ran **parsed** where auto was ticked" in note and "no token probabilities" in note


def test_a_method_run_as_ticked_needs_no_note(tmp_path):
    run, _ = validate(tmp_path, [ALWAYS_A], ["parsed"])
    headers, rows = metrics_table(run)
    assert rows[0][headers.index("method")] == "parsed" and method_notes(run) == []


def test_no_calibration_plot_without_stated_probabilities_and_a_note_says_why(tmp_path):
    run, _ = validate(tmp_path, [ALWAYS_A], ["parsed"])
    assert calibration_figure(run) is None  # not a plot of the diagonal alone
    note = calibration_note(run)
    assert note.startswith("*No calibration plot") and "state" in note and "probabilit" in note


def test_the_lab_status_moves_from_loading_to_judging_to_finished(tmp_path, monkeypatch):
    from ui import judge_lab_tab

    monkeypatch.setattr(judge_lab_tab, "run_validation", lambda config: run_validation(
        ValidationConfig(**{**config.__dict__, "out_dir": str(tmp_path)})))
    config = ValidationConfig(data=str(PAIRS), judges=[ALWAYS_A], methods=["parsed"], limit=2)
    outputs = list(judge_lab_tab._validation_views(config, lambda *args, **kwargs: None))
    statuses = [out[0] for out in outputs]
    assert statuses[0].startswith("*Loading") and statuses[1].startswith("*Judging 2 rows")
    assert statuses[-1].startswith("**Finished.**") and "Loading" not in statuses[-1]
    assert all(len(out) == 1 + judge_lab_tab.N_VIEWS + 1 for out in outputs)  # status, the views, the folder
    plot = outputs[-1][4]
    assert plot.visible is False  # the calibration plot: hidden, and the note says why
    assert "No calibration plot" in outputs[-1][6]


@pytest.mark.model
def test_a_scoring_judge_runs_head_whatever_was_ticked_and_says_so(tmp_path):
    run, updates = validate(tmp_path, [DEFAULT_JUDGE], ["probabilities", "parsed"])
    headers, rows = metrics_table(run)
    assert [row[headers.index("method")] for row in rows] == ["head (ticked: probabilities, parsed)"]
    (note,) = method_notes(run)
    assert f"`{DEFAULT_JUDGE}` ran **head** where probabilities and parsed were ticked" in note
    assert "scoring judge" in note and "measured once" in note
    assert calibration_figure(run) is None and DEFAULT_JUDGE in calibration_note(run)
    assert [u.stage for u in updates][:2] == ["loading", "judging"]
