"""`python -m judge compare` as a person runs it: output, exit codes, clear errors, and crash safety."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def judge_cli(*args, out: Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "judge", "compare", *args, "--out", str(out)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300, **kwargs)


@pytest.mark.model
def test_compare_prints_the_run_folder(tmp_path):
    result = judge_cli("--prompt", "Teach a beginner how to solve a Rubik's Cube in simple steps.",
                       "--preset", "p2", "--max-new-tokens", "8", "--judge-max-new-tokens", "40", out=tmp_path)
    assert result.returncode == 0, result.stderr
    folder = Path(result.stdout.strip().splitlines()[-1])
    assert folder.parent == tmp_path and (folder / "summary.json").is_file()
    manifest = json.loads((folder / "run.json").read_text())
    assert manifest["config"]["preset"] == "p2"
    assert manifest["config"]["sampling"]["temperature"] == 1.5 and manifest["config"]["sampling"]["min_p"] == 0.1
    assert "[1/1] prompt-1: A " in result.stderr


@pytest.mark.parametrize("args, expected", [
    (["--prompt", "hi", "--model-a", "nope"], "unknown model 'nope'"),
    (["--prompt", "  "], "the prompt is empty"),
    (["--prompts", "no-such-set"], "prompt set 'no-such-set' not found"),
    (["--prompt", "hi", "--template", "judge_pairwise"], "is a pairwise template but the mode is single"),
    (["--prompt", "hi", "--temperature", "9"], "temperature must be between 0 and 5"),
])
def test_bad_input_exits_2_with_one_clear_line(tmp_path, args, expected):
    result = judge_cli(*args, out=tmp_path)
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_prompt_file_names_the_line(tmp_path):
    prompts = tmp_path / "bad.jsonl"
    prompts.write_text('{"id": "a", "prompt": "fine"}\n{"id": "b", "prompt": \n', encoding="utf-8")
    result = judge_cli("--prompts", str(prompts), out=tmp_path)
    assert result.returncode == 2 and "bad.jsonl line 2: not valid JSON" in result.stderr


@pytest.mark.model
def test_a_run_killed_mid_way_keeps_every_finished_record(tmp_path):
    """SIGKILL after the first record: the records written so far are whole and the run is not marked done."""
    process = subprocess.Popen(
        [sys.executable, "-m", "judge", "compare", "--prompts", "study", "--max-new-tokens", "8",
         "--judge-max-new-tokens", "32", "--out", str(tmp_path)],
        cwd=REPO_ROOT, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    deadline = time.time() + 240
    for line in process.stderr:
        if line.startswith("[1/10]") or time.time() > deadline:
            break
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    (folder,) = list(tmp_path.iterdir())
    lines = (folder / "records.jsonl").read_text().splitlines()
    assert 1 <= len(lines) < 10
    records = [json.loads(line) for line in lines]  # every line is a complete record
    assert records[0]["id"] == "study-01" and records[0]["answers"]["A"]["text"]
    assert not (folder / "summary.json").exists()
