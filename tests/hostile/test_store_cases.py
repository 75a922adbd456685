"""Hostile and careless use of saved runs (issue 25, item 2), one named case each: two resumes of one run at once, a
resume of a run still being written, a damaged line in the middle of records.jsonl, a run.json naming a model that
is gone, resume folders named with '..', absolute paths, symlinks or nothing, and votes: spam, and votes on runs or
records that do not exist.

Each refusal is one clear line (the CLI: exit 2) and loses nothing: every record saved before it stays, and a resume
afterwards finishes the run with each prompt recorded once.
"""
from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from basics import REPO_ROOT, UserFacingError
from models.registry import unload_all
from runs.pipeline import resume_compare
from runs.store import read_record_lines, read_records, resolve_run
from runs.votes import VOTES_FILE, read_votes, record_vote

from helpers import judge_cli

pytestmark = pytest.mark.process  # the judge CLI in its own process, case by case

JUDGE = "scripted:Relevance: 4\\nCoherence: 3\\nCompleteness: 4"
SCRIPTED = ["--model-a", "scripted:hello there", "--model-b", "scripted:world", "--judge", JUDGE]


def unfinished_run(tmp: Path, prompts: int = 4, keep: int = 1) -> Path:
    """A scripted run of `prompts` study prompts with only its first `keep` records, as if it had been stopped."""
    result = judge_cli("--prompts", "study", "--limit", str(prompts), *SCRIPTED, out=tmp / "runs")
    assert result.returncode == 0, result.stderr
    folder = Path(result.stdout.strip())
    (folder / "summary.json").unlink()
    records = folder / "records.jsonl"
    records.write_bytes(b"".join(records.read_bytes().splitlines(keepends=True)[:keep]))
    return folder


def line_ids(folder: Path) -> Counter:
    return Counter(record["id"] for record in read_record_lines(folder / "records.jsonl"))


def one_clear_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and "Traceback" not in result.stderr and len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


# --------------------------------------------------------------------------------------------- two writers

def test_a_second_resume_of_a_run_being_resumed_is_refused_and_no_record_is_saved_twice(tmp_path):
    folder = unfinished_run(tmp_path)
    first = resume_compare(folder)
    next(u for u in first if u.stage == "record")  # the first resume has saved a record and goes on
    with pytest.raises(UserFacingError, match="is being written right now by another run or resume: wait for it"):
        list(resume_compare(folder))
    assert [u.stage for u in first][-1] == "done"
    assert line_ids(folder) == Counter({f"study-0{i}": 1 for i in range(1, 5)})
    unload_all()


def test_a_run_still_going_cannot_be_resumed_beside_it(tmp_path):
    """The app lists a run with no summary.json as unfinished while it is still being answered."""
    from runs.config import CompareConfig
    from runs.pipeline import run_compare
    from runs.prompt_sets import PromptItem

    items = [PromptItem(id=f"q{i}", prompt=f"Question {i}?") for i in range(3)]
    going = run_compare(CompareConfig(model_a="scripted:a", model_b="scripted:b", judge=JUDGE.replace("\\n", "\n"),
                                      out_dir=str(tmp_path)), items)
    folder = next(u for u in going if u.stage == "record").run_dir
    with pytest.raises(UserFacingError, match="being written right now"):
        list(resume_compare(folder))
    list(going)
    assert line_ids(folder) == Counter({"q0": 1, "q1": 1, "q2": 1})
    unload_all()


def test_a_refused_resume_leaves_the_run_free_for_the_next(tmp_path):
    """The lock goes with the writer: a resume refused after taking it lets go at once, even while the error (and
    the frames its traceback holds) is still around."""
    folder = unfinished_run(tmp_path, prompts=2)
    good = (folder / "run.json").read_text()
    manifest = json.loads(good)
    manifest["config"]["sampling"] = "hot"
    (folder / "run.json").write_text(json.dumps(manifest))
    with pytest.raises(UserFacingError, match="run.json is damaged") as caught:
        list(resume_compare(folder))
    (folder / "run.json").write_text(good)
    assert [u.stage for u in resume_compare(folder)][-1] == "done" and caught.value.__traceback__ is not None
    unload_all()


# --------------------------------------------------------------------------------------------- damaged runs

def test_a_damaged_line_in_the_middle_of_records_jsonl_is_said_kept_and_its_record_made_again(tmp_path):
    folder = unfinished_run(tmp_path, prompts=4, keep=4)
    records = folder / "records.jsonl"
    lines = records.read_bytes().splitlines(keepends=True)
    damaged = lines[1][:30] + b"\x00\xff" + lines[1][40:]
    records.write_bytes(lines[0] + damaged + lines[2] + lines[3])
    result = judge_cli("--resume", str(folder), out=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "note: 1 line(s) of" in result.stderr and "could not be read (line 2): they are kept" in result.stderr
    assert damaged in records.read_bytes(), "nothing is thrown away"
    assert sorted(r["id"] for r in read_records(folder)) == [f"study-0{i}" for i in range(1, 5)]


@pytest.mark.parametrize("gone, problem", [
    pytest.param("smollm2-135m+{tmp}/deleted-lora", "adapter '{tmp}/deleted-lora' not found",
                 id="run.json naming an adapter folder deleted since"),
    pytest.param("head:{tmp}/deleted-judge", "names no scoring judge", id="run.json naming a judge folder deleted since"),
    pytest.param("no-such-alias", "unknown model 'no-such-alias'", id="run.json naming a model this version lacks"),
])
def test_a_resume_whose_model_is_gone_says_so_in_one_line_and_keeps_the_records(tmp_path, gone, problem):
    folder = unfinished_run(tmp_path, prompts=3, keep=2)
    manifest = json.loads((folder / "run.json").read_text())
    role = "judge" if gone.startswith("head:") else "model_a"
    manifest["config"][role] = gone.replace("{tmp}", str(tmp_path))
    (folder / "run.json").write_text(json.dumps(manifest))
    before = (folder / "records.jsonl").read_bytes()
    line = one_clear_line(judge_cli("--resume", str(folder), out=tmp_path))
    assert line.startswith("error: cannot resume: a model this run names in its run.json cannot be loaded now")
    assert problem.replace("{tmp}", str(tmp_path)) in line and "put it back where the run found it" in line
    assert (folder / "records.jsonl").read_bytes() == before


@pytest.mark.parametrize("make_arg, problem", [
    pytest.param(lambda f: str(f / ".."), "is not a run folder (no run.json)", id="--resume with .. (the parent)"),
    pytest.param(lambda f: "/etc", "/etc is not a run folder", id="--resume with an absolute server folder"),
    pytest.param(lambda f: str(f / "run.json"), "is not a run folder", id="--resume naming the run's run.json"),
    pytest.param(lambda f: "", "--resume needs a run folder", id="--resume with an empty name"),
    pytest.param(lambda f: "   ", "--resume needs a run folder", id="--resume with spaces only"),
])
def test_a_resume_folder_that_is_no_run_is_one_clear_line(tmp_path, make_arg, problem):
    folder = unfinished_run(tmp_path, prompts=2)
    assert problem in one_clear_line(judge_cli("--resume", make_arg(folder), out=tmp_path))


@pytest.mark.parametrize("through", ["dots", "symlink"],
                         ids=["--resume by a path through ..", "--resume by a symlink to the run folder"])
def test_a_resume_by_another_path_to_the_same_run_finishes_it_in_place(tmp_path, through):
    folder = unfinished_run(tmp_path, prompts=2)
    path = folder.parent / ".." / folder.parent.name / folder.name
    if through == "symlink":
        path = tmp_path / "link"
        path.symlink_to(folder)
    result = judge_cli("--resume", str(path), out=tmp_path)
    assert result.returncode == 0, result.stderr
    assert line_ids(folder) == Counter({"study-01": 1, "study-02": 1}) and (folder / "summary.json").is_file()


@pytest.mark.parametrize("value", [5, None, ["run"], "   "],
                         ids=["a number for a run", "null for a run", "a list for a run", "spaces for a run"])
def test_a_run_named_by_something_that_is_no_name_is_a_clear_error(value):
    with pytest.raises(UserFacingError, match="a run is named by its folder's name or path"):
        resolve_run(value)


# --------------------------------------------------------------------------------------------- votes

def test_vote_spam_on_one_record_counts_once_as_the_latest_vote(tmp_path):
    from analysis.agreement import judge_agreement

    folder = unfinished_run(tmp_path, prompts=2, keep=2)
    for _ in range(200):
        record_vote(folder, "study-01", "A", preset="p1")
    record_vote(folder, "study-01", "tie", preset="p1")
    votes = read_votes(folder)
    agreement = judge_agreement(read_records(folder), votes)
    assert len(votes) == 201 and agreement.n_usable == 1 and agreement.agreement == 1.0  # the judge said tie


@pytest.mark.parametrize("record_id, preset, problem", [
    pytest.param("study-99", "p1", "has no record 'study-99' at preset 'p1'", id="a vote on a record the run lacks"),
    pytest.param("study-01", "p2", "has no record 'study-01' at preset 'p2'", id="a vote at a preset the run lacks"),
    pytest.param("x" * 10_000, "p1", "has no record 'xxxxxxxx", id="a vote on a 10,000-character record id"),
    pytest.param("", "p1", "a vote needs the id of the record", id="a vote with no record id"),
])
def test_a_vote_on_a_record_that_does_not_exist_is_refused_and_nothing_is_written(tmp_path, record_id, preset,
                                                                                  problem):
    folder = unfinished_run(tmp_path, prompts=2, keep=2)
    with pytest.raises(UserFacingError, match=problem) as caught:
        record_vote(folder, record_id, "A", preset=preset)
    assert len(str(caught.value)) < 300 and not (folder / VOTES_FILE).exists()


@pytest.mark.parametrize("make_folder", [
    pytest.param(lambda t: t / "no-such-run", id="a vote on a run that does not exist"),
    pytest.param(lambda t: t, id="a vote on a folder that is no run"),
])
def test_a_vote_on_a_run_that_does_not_exist_is_refused(tmp_path, make_folder):
    with pytest.raises(UserFacingError, match="is not a run folder .*run a comparison before voting"):
        record_vote(make_folder(tmp_path), "study-01", "A", preset="p1")
    assert not list(tmp_path.rglob(VOTES_FILE))


@pytest.mark.parametrize("args, problem", [
    pytest.param(["compare", "--prompt", "hi", *SCRIPTED, "--gate", ""], "--gate needs a run folder",
                 id="--gate given empty (was a gate that checked nothing and passed)"),
    pytest.param(["validate", "--pairs", " ", "--judge", JUDGE], "--pairs needs a labelled JSONL file",
                 id="validate --pairs given empty (was read as the current folder)"),
])
def test_an_empty_folder_flag_is_refused_not_skipped_or_read_as_here(tmp_path, args, problem):
    result = subprocess.run([sys.executable, "-m", "judge", *args, "--out", str(tmp_path / "out")], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert problem in one_clear_line(result)
    assert not (tmp_path / "out").exists()
