"""A checkpoint sweep over checkpoints trained here (the two-step run of tests/finetune/conftest.py: step-1 and
step-2, each with its GGUF twin): both found by step with their loss history, answered on llama.cpp with their LoRA,
judged against the base model, and the summary names one of them. A scripted judge keeps it small."""
import json

import pytest

from evals.outcomes import SWEEP_SUMMARY
from evals.sweep import SweepConfig, discover_checkpoints, run_sweep
from evals.sweep_report import write_summary

from finetune_helpers import GGUF_ALIAS

pytestmark = pytest.mark.model
JUDGE = "scripted:Relevance: 4\\nCoherence: 3\\nCompleteness: 3||Relevance: 3\\nCoherence: 3\\nCompleteness: 2"


def test_a_sweep_over_checkpoints_trained_in_the_test(two_step_run, tmp_path):
    found = discover_checkpoints(two_step_run.out)
    assert [(c.label, c.step) for c in found] == [("step-1", 1), ("step-2", 2)]
    assert all(c.spec.startswith("smollm2-135m-f32-gguf+") and c.spec.endswith("adapter.gguf") for c in found)
    assert [p["step"] for p in found[1].loss_curve] == [1, 2]

    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"id": f"q{i}", "prompt": text}) + "\n"
                               for i, text in enumerate(["Name a color.", "Say hello."])))
    config = SweepConfig(checkpoints=[str(two_step_run.out)], baseline=GGUF_ALIAS, prompts=str(prompts),
                         judges=[JUDGE], max_new_tokens=8, out_dir=str(tmp_path / "out"))
    result = run_sweep(config)
    assert [p["a"] for p in result.pairings] == [c.spec for c in found] and result.generated == 6  # 3 models x 2
    summary = write_summary(result)
    assert summary["best"] in ("step-1", "step-2") and "Best checkpoint" in summary["sentence"]
    assert [row["step"] for row in summary["checkpoints"]] == [1, 2]
    assert json.loads((result.folder / SWEEP_SUMMARY).read_text())["best"] == summary["best"]
