"""A run resumed after one of its models changed (a file overwritten, a hub repo at a newer commit) says so with every
record made after the resume: its records would otherwise mix two models under one name."""
import json

import pytest

from models.registry import unload_all
from runs.config import CompareConfig
from runs.fingerprints import model_changes
from runs.pipeline import resume_compare, run_compare
from runs.prompt_sets import PromptItem
from runs.store import RECORDS_FILE, SUMMARY_FILE

JUDGE = "scripted:Relevance: 4\\nCoherence: 3\\nCompleteness: 4\\nReasons: fine"
ITEMS = [PromptItem(id="q1", prompt="First?"), PromptItem(id="q2", prompt="Second?")]


def described(revision: str, listed_from: str = "hub") -> dict:
    return {"spec": "org/repo/x.Q4_K_M.gguf", "files": [],
            "hub": {"base": {"repo": "org/repo", "kind": "gguf", "file": "x.Q4_K_M.gguf", "revision": revision,
                             "listed_from": listed_from}}}


@pytest.mark.parametrize("before, now, changed", [
    (described("a" * 40), described("a" * 40, "cache"), False),  # read from the cache this time: the same commit
    (described("a" * 40), described("b" * 40), True),
    ({"spec": "x", "files": [{"role": "base", "sha256": "1"}]}, {"spec": "x", "files": [{"role": "base", "sha256": "1"}]},
     False),
    ({"spec": "x", "files": [{"role": "base", "sha256": "1"}]}, {"spec": "x", "files": [{"role": "base", "sha256": "2"}]},
     True),
])
def test_a_model_is_the_same_when_its_files_and_commit_are(before, now, changed):
    changes = model_changes({"model_a": before}, {"model_a": now})
    assert bool(changes) == changed
    if changed and "hub" in now:
        assert "(commit aaaaaaaaaaaa then, bbbbbbbbbbbb now)" in changes[0]


def test_a_resume_after_a_model_s_file_changed_says_so_on_its_new_records(tmp_path):
    unload_all()
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps({"replies": ["An answer from A."]}))
    config = CompareConfig(model_a=f"scripted:@{replies}", model_b="scripted:An answer from B.", judge=JUDGE,
                           out_dir=str(tmp_path / "runs"))
    first = [u.record for u in run_compare(config, ITEMS) if u.stage == "record"]
    assert not any("changed since" in w for r in first for w in r.get("warnings") or [])
    folder = next((tmp_path / "runs").iterdir())
    lines = (folder / RECORDS_FILE).read_text().splitlines()
    (folder / RECORDS_FILE).write_text(lines[0] + "\n")  # as if stopped after the first prompt
    (folder / SUMMARY_FILE).unlink()
    replies.write_text(json.dumps({"replies": ["A retrained answer from A."]}))
    unload_all()
    resumed = [u.record for u in resume_compare(folder) if u.stage == "record"]
    assert [r["id"] for r in resumed] == ["q2"]
    assert any(w.startswith("model A: its files have changed since this run began") for w in resumed[0]["warnings"])
    unload_all()
