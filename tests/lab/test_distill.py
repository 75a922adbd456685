"""Distillation end to end on the real embedded model (lab/distill.py): the shipped good-vs-broken pairs as the
teacher's (gold) labels, split by prompt, a student trained, measured, registered, and used as a judge."""
import json
import subprocess
import sys

import pytest

from lab.distill import DistillConfig, is_held_out, run_distill
from lab.validation import load_labelled
from models import known_model_specs, load_model
from runs.config import CompareConfig
from runs.pipeline import run_compare
from runs.prompt_sets import single_prompt

pytestmark = pytest.mark.model
PAIRS = "prompts/validation/good_vs_broken_pairs.jsonl"


def test_the_split_keeps_every_prompt_on_one_side():
    items = load_labelled(PAIRS).items
    sides = {item.prompt: is_held_out(item.prompt, 0.3) for item in items}
    assert 0 < sum(sides.values()) < len(sides)  # both sides hold prompts
    assert all(is_held_out(item.prompt, 0.3) == sides[item.prompt] for item in items)


def test_a_student_is_distilled_registered_and_judges_a_compare(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_JUDGE_ADAPTERS", str(tmp_path / "adapters"))
    config = DistillConfig(data=PAIRS, name="tiny", held_out=0.3, baseline=None,
                           out_dir=str(tmp_path / "adapters" / "judges"))
    updates = list(run_distill(config))
    stages = list(dict.fromkeys(u.stage for u in updates))
    assert stages == ["labelling", "features", "training", "validating", "done"]
    counted = [u.done for u in updates if u.stage == "features" and u.done]
    assert counted == sorted(counted) and counted[-1] == updates[1].total  # every answer read, progress in order
    report, folder = updates[-1].report, updates[-1].folder
    assert report["counts"]["held_out"] == 2 and report["counts"]["train"] == 10 and report["counts"]["degraded"] > 10
    assert 0 <= report["student"]["agreement"] <= 1 and report["learning_curve"]
    losses = report["loss_curve"]["relevance"]
    assert len(losses) > 2 and losses[-1] < losses[0]  # the head's training loss falls
    assert set(report["items_per_second"]) >= {"labelling", "features", "training", "validating_student"}
    assert json.loads((folder / "report.json").read_text())["teacher"] == "gold"
    spec = f"head:{folder}"
    assert spec in known_model_specs()  # registered: every judge picker offers it
    compare = CompareConfig(model_a="smollm2-135m-gguf", model_b="smollm2-135m-gguf", judge=spec,
                            out_dir=str(tmp_path / "runs"))
    compare.sampling = compare.sampling.with_(max_new_tokens=8)
    records = [u.record for u in run_compare(compare, [single_prompt("Name a colour.")]) if u.stage == "record"]
    assert records[0]["status"] == "ok" and records[0]["method"] == "head"
    assert load_model(spec).head.meta["counts"] == report["counts"]


def test_the_cli_measures_a_baseline_beside_the_student(tmp_path):
    done = subprocess.run([sys.executable, "-m", "judge", "distill", "--data", PAIRS, "--name", "cli", "--held-out",
                           "0.3", "--out", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "baseline: agreement" in done.stderr and "student: agreement" in done.stderr
    assert done.stdout.strip() == str(tmp_path / "cli")


def test_a_file_of_classes_is_refused_with_the_reason(tmp_path):
    from basics import UserFacingError

    with pytest.raises(UserFacingError, match="holds classes: distilling a scoring judge needs pairs"):
        list(run_distill(DistillConfig(data="prompts/validation/toxicity_examples.jsonl", out_dir=str(tmp_path))))
