"""`python -m judge sweep` end to end on the real embedded model: two "checkpoints" (the 4-bit GGUF and the
transformers model), the GGUF as the baseline, two prompts, short answers, a scripted judge to keep it small."""
import json
import subprocess
import sys

import pytest

from runs.store import load_run

from helpers import REPO_ROOT


@pytest.mark.model
def test_a_sweep_runs_on_the_embedded_model(tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"id": f"q{i}", "prompt": text}) + "\n" for i, text in
                               enumerate(["Name a fruit.", "Say hello in French."])))
    judge = "scripted:Relevance: 4\nCoherence: 3\nCompleteness: 3||Relevance: 3\nCoherence: 3\nCompleteness: 2"
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "judge", "sweep", "--checkpoints", "smollm2-135m-gguf",
                           "smollm2-135m", "--baseline", "smollm2-135m-gguf", "--prompts", str(prompts),
                           "--max-new-tokens", "16", "--judge", judge, "--out", str(out)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    folder = out / done.stdout.strip().rsplit("/", 1)[-1]
    manifest = json.loads((folder / "sweep.json").read_text())
    (pairing,) = manifest["pairings"]  # the baseline checkpoint is not judged against itself
    assert (pairing["a"], pairing["b"]) == ("smollm2-135m", "smollm2-135m-gguf")
    records = load_run(out / pairing["run"]).records
    assert len(records) == 2 and all(0 < r["answers"]["A"]["n_tokens"] <= 16 for r in records)
    assert all(r["answers"]["B"]["text"] for r in records)
    assert len(list((out / ".cache" / "answers").glob("*.json"))) == 4  # two models x two prompts, once each
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["best"] in ("smollm2-135m", "smollm2-135m-gguf") and "Best checkpoint" in summary["sentence"]
    assert (folder / "sweep.html").is_file()
