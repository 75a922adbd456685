"""`python -m judge compare` as a person runs it: output, exit codes, clear errors, and crash safety."""
import json
from pathlib import Path

import pytest

from helpers import judge_cli


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
