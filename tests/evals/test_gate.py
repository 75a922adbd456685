"""The gate against the last good run, on hand-made run folders: a drop fails only when it is bigger than the margin
and its paired interval excludes no change; different judges are refused; nothing in common is a failure."""
import pytest

from basics import UserFacingError
from evals.gate import gate, gate_checks, open_gate_run
from runs.store import load_run

from run_builders import make_record, write_run

WIN, LOSS, TIE = ((4, 4, 4), (2, 2, 2), "A"), ((2, 2, 2), (4, 4, 4), "B"), ((3, 3, 3), (3, 3, 3), "tie")


def folder(tmp_path, name, outcomes, ids=None, **changes):
    ids = ids or [f"q{i}" for i in range(len(outcomes))]
    records = [{**make_record(rid, "p1", a, b, winner), **changes} for rid, (a, b, winner) in zip(ids, outcomes)]
    return write_run(tmp_path, name, "2026-01-01T00:00:00+00:00", records)


def new_records(tmp_path, outcomes, **changes):
    return load_run(folder(tmp_path / "new", "new", outcomes, **changes)).records


def test_the_same_results_pass_and_say_what_was_compared(tmp_path):
    old = open_gate_run(folder(tmp_path, "old", [WIN] * 12), "judge-x")
    verdict = gate(new_records(tmp_path, [WIN] * 12), old)
    assert verdict.passed and verdict.line.startswith("gate passed against old")
    assert [c.measure for c in verdict.checks] == ["win rate against model-b", "mean relevance", "mean coherence",
                                                   "mean completeness"]


def test_a_clear_drop_in_win_rate_fails_with_one_line_saying_why(tmp_path):
    old = load_run(folder(tmp_path, "old", [WIN] * 12))
    verdict = gate(new_records(tmp_path, [LOSS] * 6 + [WIN] * 6), old)
    assert not verdict.passed
    assert "\n" not in verdict.line and verdict.line.startswith("gate failed against old: ")
    assert "1.00 -> 0.50 (paired difference -0.50" in verdict.line and "12 prompts" in verdict.line
    assert "worse by more than the margin" in verdict.line


def test_a_drop_smaller_than_the_margin_passes(tmp_path):
    """One win of 12 became a tie: 4 points of win rate, under the 5-point margin, even if it were certain."""
    old = load_run(folder(tmp_path, "old", [WIN] * 12))
    records = new_records(tmp_path, [TIE] + [WIN] * 11)
    for record in records:  # keep the scores as they were: only the verdict moved
        record["scores"]["A"] = {"relevance": 4, "coherence": 4, "completeness": 4}
    assert gate(records, old, margin=0.05).passed
    # With no margin at all the interval still decides: it reaches no change, so no failure.
    check = gate_checks(records, old.records, 0.0)[0]
    assert check.difference.mean < 0 and check.difference.high == 0 and not check.worse
    assert gate(records, old, margin=0.0).passed


def test_a_drop_the_interval_cannot_tell_from_noise_passes(tmp_path):
    """Verdicts flip both ways, one more loss than win: a drop of 17 points, but the interval spans zero."""
    old = load_run(folder(tmp_path, "old", [WIN, LOSS, WIN, LOSS, WIN, LOSS]))
    verdict = gate(new_records(tmp_path, [LOSS, WIN, LOSS, LOSS, WIN, LOSS]), old, margin=0.05)
    check = verdict.checks[0]
    assert round(check.difference.mean, 3) == -0.167 and check.difference.low < 0 < check.difference.high
    assert verdict.passed


def test_a_criterion_mean_that_falls_fails_even_when_the_verdicts_hold(tmp_path):
    old = load_run(folder(tmp_path, "old", [WIN] * 10))
    records = new_records(tmp_path, [WIN] * 10)
    for record in records:
        record["scores"]["A"]["coherence"] = 3  # 4 -> 3 on a 1-4 scale: a third of its range, over 0.05 of it
    verdict = gate(records, old)
    assert not verdict.passed and "mean coherence 4.00 -> 3.00" in verdict.line


def test_a_different_baseline_leaves_the_win_rate_out(tmp_path):
    old = load_run(folder(tmp_path, "old", [WIN] * 8))
    records = new_records(tmp_path, [LOSS] * 8, model_b="another-baseline")
    measures = [c.measure for c in gate_checks(records, old.records)]
    assert "win rate against another-baseline" not in measures and "mean relevance" in measures


def test_nothing_in_common_is_a_failure_never_a_pass(tmp_path):
    old = load_run(folder(tmp_path, "old", [WIN] * 4))
    records = load_run(folder(tmp_path / "new", "new", [WIN] * 4, ids=["x1", "x2", "x3", "x4"])).records
    verdict = gate(records, old)
    assert not verdict.passed and "nothing to compare with old" in verdict.line


def test_the_gate_run_is_checked_before_anything_runs(tmp_path):
    run_dir = folder(tmp_path, "old", [WIN] * 3)
    with pytest.raises(UserFacingError, match="was judged by judge-x, this run by other-judge"):
        open_gate_run(run_dir, "other-judge")
    with pytest.raises(UserFacingError, match="no such run folder"):
        open_gate_run(tmp_path / "missing", "judge-x")
    empty = write_run(tmp_path, "empty", "2026-01-01T00:00:00+00:00", [])
    with pytest.raises(UserFacingError, match="has no records"):
        open_gate_run(empty, "judge-x")
    with pytest.raises(UserFacingError, match="--gate-margin must be a share"):
        gate([], load_run(run_dir), margin=5)


def test_a_tests_out_folder_pools_its_sample_rounds_but_not_unrelated_runs(tmp_path):
    rounds = tmp_path / "last-good"
    folder(rounds, "round-1", [WIN] * 6)
    folder(rounds, "round-2", [WIN] * 3 + [LOSS] * 3)
    pooled = open_gate_run(rounds, "judge-x")
    assert pooled.name == "last-good" and len(pooled.records) == 12
    check = gate_checks(new_records(tmp_path, [WIN] * 6), pooled.records)[0]
    assert check.old == 0.75 and check.new == 1.0  # each prompt's samples averaged, then paired
    folder(rounds, "someone-else", [WIN] * 2, model_b="another-baseline")
    with pytest.raises(UserFacingError, match="holds runs of 2 different model pairs"):
        open_gate_run(rounds, "judge-x")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserFacingError, match="not a run folder"):
        open_gate_run(tmp_path / "empty", "judge-x")
