"""`python -m judge sweep` on scripted models: checkpoints found in a training run's folder, each model's answers
generated once and reused in every pairing (and in a second sweep), the best checkpoint's sentence both ways, the
sweep folder's manifest, and the CLI's exit status and one-line errors."""
import json
import subprocess
import sys

import pytest

from evals.answer_cache import AnswerCache
from evals.sweep import Checkpoint, SweepConfig, SweepResult, discover_checkpoints, pairings, run_sweep
from evals.sweep_report import CHART_FILE, SUMMARY_FILE, summarize_sweep, write_summary
from models import load_model
from runs.store import list_runs, load_run

from helpers import REPO_ROOT

GOOD = "Relevance: 4\nCoherence: 4\nCompleteness: 3"
POOR = "Relevance: 2\nCoherence: 1\nCompleteness: 1"
JUDGE = f"scripted:{GOOD}||{POOR}"


def make_checkpoint(folder, steps=None, losses=None, trainer_state=None):
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "smollm2-135m"}))
    if steps is not None:
        curve = [{"step": s, "loss": loss} for s, loss in (losses or [])]
        (folder / "meta.json").write_text(json.dumps({"base": "smollm2-135m", "steps": steps, "loss_curve": curve}))
    if trainer_state is not None:
        (folder / "trainer_state.json").write_text(json.dumps({"log_history": trainer_state}))
    return folder


@pytest.fixture
def prompts(tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_text("".join(json.dumps({"id": f"q{i}", "prompt": f"Explain thing {i}."}) + "\n" for i in range(3)))
    return path


def sweep_cli(*args, out) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "judge", "sweep", *args, "--out", str(out)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)


# ------------------------------------------------------------------------------------------------ discovery

def test_checkpoints_are_found_by_step_with_their_loss_history(tmp_path):
    run = tmp_path / "run"
    make_checkpoint(run / "step-20", steps=20, losses=[(10, 2.0), (20, 1.5)])
    make_checkpoint(run / "step-10", steps=10, losses=[(10, 2.0)])
    make_checkpoint(run / "checkpoint-20")  # the same step, saved by transformers too: counted once
    make_checkpoint(run / "checkpoint-30", trainer_state=[{"step": 30, "loss": 1.2}, {"step": 30, "eval_loss": 9}])
    (run / "_resume").mkdir()
    (run / "step-40").mkdir()  # no adapter in it: not a checkpoint
    found = discover_checkpoints(run)
    assert [(c.label, c.step) for c in found] == [("step-10", 10), ("step-20", 20), ("checkpoint-30", 30)]
    assert found[1].loss_curve == [{"step": 10, "loss": 2.0}, {"step": 20, "loss": 1.5}]
    assert found[2].loss_curve == [{"step": 30, "loss": 1.2}]
    assert found[0].spec.startswith("smollm2-135m+") and found[0].spec.endswith("step-10")


def test_a_checkpoint_equal_to_the_baseline_is_not_judged_against_itself():
    checkpoints = [Checkpoint("a", "scripted:a"), Checkpoint("b", "scripted:b"), Checkpoint("c", "scripted:c")]
    assert pairings(checkpoints, "scripted:a", False) == [("scripted:b", "scripted:a", "baseline"),
                                                          ("scripted:c", "scripted:a", "baseline")]
    both = pairings(checkpoints, "scripted:a", True)
    assert both[2:] == [("scripted:b", "scripted:c", "round-robin")]  # a-b and a-c were run against the baseline


# ---------------------------------------------------------------------------------- answers made once, reused

def test_each_model_answers_each_prompt_once_across_pairings_and_sweeps(tmp_path, prompts):
    specs = ["scripted:sweep-one", "scripted:sweep-two", "scripted:sweep-three"]
    baseline = "scripted:sweep-base"
    config = SweepConfig(checkpoints=specs, baseline=baseline, prompts=str(prompts), presets=["p1", "p2"],
                         round_robin=True, judges=[JUDGE], out_dir=str(tmp_path / "out"))
    before = {spec: len(load_model(spec).calls) for spec in [*specs, baseline]}
    first = run_sweep(config)
    assert len(first.pairings) == 6  # three against the baseline, three between checkpoints
    made = {spec: len(load_model(spec).calls) - before[spec] for spec in before}
    assert made == {spec: 3 * 2 for spec in before}  # 3 prompts x 2 presets, whatever the number of pairings
    assert first.generated == 24 and first.reused == 0
    second = run_sweep(config)  # a second sweep over the same results folder: every answer read back
    assert second.generated == 0 and second.reused == 24
    assert {spec: len(load_model(spec).calls) - before[spec] for spec in before} == made
    entries = list((tmp_path / "out" / ".cache" / "answers").glob("*.json"))
    assert len(entries) == 24 and not list((tmp_path / "out" / ".cache" / "answers").glob(".*.tmp"))
    pair = load_run(tmp_path / "out" / second.pairings[0]["run"]).records
    assert {r["answers"]["A"]["text"] for r in pair} == {"sweep-one"}  # the cached answers are what was judged
    assert {r["answers"]["B"]["text"] for r in pair} == {"sweep-base"}


def test_a_changed_seed_or_model_file_is_answered_afresh(tmp_path, prompts):
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps(["First answer."]))
    cache = AnswerCache.under(tmp_path / "out")
    config = SweepConfig(checkpoints=[f"scripted:@{replies}"], baseline="scripted:other", prompts=str(prompts),
                         judges=[JUDGE], seed=1, out_dir=str(tmp_path / "out"))
    from evals.sweep import compare_config
    from runs.prompt_sets import load_prompt_set

    items = load_prompt_set(str(prompts))
    plan = compare_config(config, config.checkpoints[0], config.baseline).sampling_plan()
    cache.answers(config.checkpoints[0], items, plan)
    assert cache.generated == 3
    cache.answers(config.checkpoints[0], items, plan)
    assert cache.generated == 3 and cache.reused == 3
    config.seed = 2
    cache.answers(config.checkpoints[0], items, compare_config(config, "scripted:x", "scripted:y").sampling_plan())
    assert cache.generated == 6
    replies.write_text(json.dumps(["Retrained answer."]))
    fresh = AnswerCache.under(tmp_path / "out")  # a new process: the file's fingerprint is read again
    fresh.answers(config.checkpoints[0], items, plan)
    assert fresh.generated == 3


# --------------------------------------------------------------------------------- the best checkpoint's lead

def record(a, b, n, winner, total_a, total_b):
    return {"id": f"q{n}", "preset": "p1", "model_a": a, "model_b": b, "winner": winner, "mode": "single",
            "rubric": {"criteria": ["relevance"], "scale": [1, 4]},
            "scores": {"A": {"relevance": total_a}, "B": {"relevance": total_b}}, "totals": {"A": total_a, "B": total_b}}


def sweep_result(tmp_path, head_to_head):
    """Two checkpoints judged against a baseline they both beat, and against each other as given."""
    early, late, base = "scripted:early", "scripted:late", "scripted:base"
    records = {(early, base): [record(early, base, i, "A", 3, 1) for i in range(len(head_to_head))],
               (late, base): [record(late, base, i, "A", 4, 1) for i in range(len(head_to_head))],
               (early, late): [record(early, late, i, *row) for i, row in enumerate(head_to_head)]}
    checkpoints = [Checkpoint("step-10", early, 10, loss_curve=[{"step": 10, "loss": 2.0}]),
                   Checkpoint("step-20", late, 20, loss_curve=[{"step": 10, "loss": 2.0}, {"step": 20, "loss": 1.4}])]
    return SweepResult(tmp_path, checkpoints, base, [], records)


def test_a_real_lead_is_called_real(tmp_path):
    # step-20 beats step-10 on all 20 prompts, by 1 to 3 points: both the win rate and the paired test exclude even
    result = sweep_result(tmp_path, [("B", 2, 2 + 1 + i % 3) for i in range(20)])
    summary = write_summary(result)
    assert summary["best"] == "step-20"
    assert summary["lead"]["real"] is True and summary["lead"]["over"] == "step-10"
    assert "Best checkpoint: step-20" in summary["sentence"] and "Its lead over step-10 is real" in summary["sentence"]
    assert "excludes an even split" in summary["sentence"]
    assert (tmp_path / CHART_FILE).is_file() and json.loads((tmp_path / SUMMARY_FILE).read_text())["best"] == "step-20"
    html = (tmp_path / CHART_FILE).read_text()
    assert "training loss" in html and "win rate" in html and '"yaxis":"y2"' in html  # the loss on its own axis


def test_a_lead_the_prompts_cannot_show_says_how_many_would_be_needed(tmp_path):
    # step-20 wins 4 of 6 by small, mixed margins: the interval includes even
    result = sweep_result(tmp_path, [("B", 2, 3), ("B", 2, 4), ("A", 3, 2), ("B", 2, 3), ("A", 3, 2), ("B", 1, 3)])
    summary = summarize_sweep(result)
    assert summary["best"] == "step-20" and summary["lead"]["real"] is False
    sentence = summary["sentence"]
    assert "Its lead over step-10 is not shown to be real" in sentence
    needed = summary["lead"]["paired_difference"]["prompts_needed"]
    assert needed and needed > 6 and f"an estimated {needed:,} prompts would be needed" in sentence


def test_the_summary_has_each_checkpoints_win_rate_scores_and_strength(tmp_path):
    summary = summarize_sweep(sweep_result(tmp_path, [("B", 2, 4)] * 8))
    rows = {row["label"]: row for row in summary["checkpoints"]}
    assert rows["step-20"]["win_rate"]["rate"] == 1.0 and rows["step-20"]["win_rate"]["low"] < 1.0  # Wilson
    assert rows["step-20"]["criteria"]["relevance"]["mean"] == 4.0
    assert rows["step-10"]["criteria"]["relevance"]["mean"] == 3.0
    assert rows["step-20"]["rank"] == 1 and rows["step-10"]["rank"] == 2
    bt = rows["step-20"]["bradley_terry"]
    assert bt["low"] <= bt["score"] <= bt["high"]


# ------------------------------------------------------------------------------------- the folder, the CLI

def test_the_cli_makes_one_sweep_folder_naming_ordinary_run_folders(tmp_path, prompts):
    out = tmp_path / "out"
    done = sweep_cli("--checkpoints", "scripted:cli-one", "scripted:cli-two", "--baseline", "scripted:cli-base",
                     "--prompts", str(prompts), "--judge", JUDGE, "--round-robin", out=out)
    assert done.returncode == 0, done.stderr
    folder = out / done.stdout.strip().splitlines()[-1].rsplit("/", 1)[-1]
    manifest = json.loads((folder / "sweep.json").read_text())
    assert manifest["kind"] == "sweep" and manifest["baseline"] == "scripted:cli-base"
    assert [c["spec"] for c in manifest["checkpoints"]] == ["scripted:cli-one", "scripted:cli-two"]
    runs = {(p["a"], p["b"]): p["run"] for p in manifest["pairings"]}
    assert set(runs) == {("scripted:cli-one", "scripted:cli-base"), ("scripted:cli-two", "scripted:cli-base"),
                         ("scripted:cli-one", "scripted:cli-two")}
    listed = {info.folder for info in list_runs(out)}
    for run in runs.values():
        assert run in listed and len(load_run(out / run).records) == 3  # the Results tab lists and opens them
    assert (folder / SUMMARY_FILE).is_file() and (folder / CHART_FILE).is_file()
    assert "Best checkpoint: " in done.stderr


@pytest.mark.parametrize("args, expected", [
    (lambda d: ["--checkpoints", str(d / "empty"), "--baseline", "scripted:b"], "no checkpoints found in"),
    (lambda d: ["--checkpoints", "no-such-model", "--baseline", "scripted:b"], "--checkpoints 'no-such-model'"),
    (lambda d: ["--checkpoints", "scripted:a", "--baseline", "no-such-model"], "--baseline 'no-such-model'"),
    (lambda d: ["--checkpoints", "scripted:a", "scripted:a", "--baseline", "scripted:b"], "given twice"),
    (lambda d: ["--checkpoints", "scripted:b", "--baseline", "scripted:b"], "nothing to judge"),
    (lambda d: ["--checkpoints", str(d / "broken"), "--baseline", "scripted:b"], "step-5"),
    (lambda d: ["--checkpoints", "scripted:a", "--baseline", "scripted:b", "--preset", "p9"], "p9"),
    (lambda d: ["--checkpoints", "scripted:a", "--baseline", "scripted:b", "--template", "no_such"], "no_such"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, prompts, args, expected):
    (tmp_path / "empty").mkdir()
    make_checkpoint(tmp_path / "broken" / "step-5", steps=5)  # an adapter_config.json and no weights
    done = sweep_cli(*args(tmp_path), "--prompts", str(prompts), "--judge", JUDGE, out=tmp_path / "out")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], done.stderr
    assert done.stdout == ""
    assert not [p for p in (tmp_path / "out").glob("*") if p.name != ".cache"]  # no sweep or run folder left


def test_a_missing_prompt_set_is_named(tmp_path):
    done = sweep_cli("--checkpoints", "scripted:a", "--baseline", "scripted:b", "--prompts", str(tmp_path / "no.jsonl"),
                     out=tmp_path / "out")
    assert done.returncode == 2 and "no.jsonl" in done.stderr and len(done.stderr.strip().splitlines()) == 1
