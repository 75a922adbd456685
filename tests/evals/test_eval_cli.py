"""`python -m judge test` and `--gate` as a CI system runs them, in a subprocess on scripted models: exit 0 when every
case passes, 1 when one fails or the gate does, 2 with one line for bad input; the JUnit file is written."""
import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
import yaml

from helpers import REPO_ROOT, judge_cli

pytestmark = pytest.mark.process  # `python -m judge test` in its own process, case by case

GOOD = "Relevance: 4\nCoherence: 4\nCompleteness: 3\nReasons: thorough"
POOR = "Relevance: 2\nCoherence: 1\nCompleteness: 1\nReasons: off topic"
CASES = [{"id": f"c{i}", "prompt": f"Explain thing {i}.", "expect": [{"min_total": 9}]} for i in range(1, 9)]


def judge_test(*args, out) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "judge", "test", *args, "--out", str(out)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def files(tmp_path):
    """A suite of eight cases and a scripted judge whose replies a test rewrites (its spec, the judge's name in the
    runs, stays the same, as the gate asks)."""
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump({"name": "ci", "cases": CASES}))
    judge = tmp_path / "judge.json"
    return suite, judge, f"scripted:@{judge}"


def replies(path, *texts):
    path.write_text(json.dumps(list(texts)))


def test_a_passing_suite_exits_0_and_writes_junit(files, tmp_path):
    suite, judge_file, judge = files
    replies(judge_file, GOOD, POOR)
    done = judge_test(str(suite), "--model", "scripted:An answer.", "--judge", judge, "--junit",
                      str(tmp_path / "junit.xml"), out=tmp_path / "runs")
    assert done.returncode == 0, done.stderr
    assert "8 passed in" in done.stdout and "FAILED" not in done.stdout
    root = ET.parse(tmp_path / "junit.xml").getroot()
    assert root.find("testsuite").get("tests") == "8" and root.find("testsuite").get("failures") == "0"


def test_a_failing_case_exits_1_and_the_gate_fails_a_worse_run(files, tmp_path):
    suite, judge_file, judge = files
    replies(judge_file, GOOD, POOR)
    first = judge_test(str(suite), "--model", "scripted:An answer.", "--baseline", "scripted:Another.", "--judge",
                       judge, out=tmp_path / "runs")
    assert first.returncode == 0, first.stderr
    (last_good,) = [f for f in (tmp_path / "runs").iterdir() if (f / "run.json").is_file()]  # and the suite.json
    replies(judge_file, POOR, GOOD)  # the model under test now loses every prompt and misses every min_total
    worse = judge_test(str(suite), "--model", "scripted:An answer.", "--baseline", "scripted:Another.", "--judge",
                       judge, "--gate", str(last_good), out=tmp_path / "runs")
    assert worse.returncode == 1
    assert "8 failed in" in worse.stdout and "FAILED total at least 9: total 4" in worse.stdout
    gate_lines = [line for line in worse.stderr.splitlines() if line.startswith("gate ")]
    assert len(gate_lines) == 1 and gate_lines[0].startswith(f"gate failed against {last_good.name}: win rate")


@pytest.mark.parametrize("args, message", [
    (["missing.yaml", "--model", "scripted:x"], "error: no suite file 'missing.yaml'"),
    (["SUITE", "--model", "scripted:x", "--case", "nope"], "has no case 'nope'; its cases: c1, c2"),
    (["SUITE", "--model", "scripted:x", "--gate", "no-such-run"], "--gate no-such-run: no such run folder"),
    (["SUITE", "--model", "scripted:x", "--gate-margin", "5"], "--gate-margin must be a share"),
    (["SUITE", "--model", "scripted:x", "--max-new-tokens", "0"], "error: --max-new-tokens must be 1..8192, got 0"),
    (["BEATS", "--model", "scripted:x"], "ask whether the model beats the baseline: give --baseline SPEC"),
    (["BAD", "--model", "scripted:x"], "case 1 (c1): a case does not take expected"),
    (["SUITE", "--model", "nonsense-model-name"], "error: unknown model 'nonsense-model-name'"),
])
def test_bad_input_exits_2_with_one_line(files, tmp_path, args, message):
    suite, _, _ = files
    beats = tmp_path / "beats.yaml"
    beats.write_text(yaml.safe_dump({"name": "b", "cases": [{"id": "c1", "prompt": "p", "expect": [
        {"beats_baseline": True}]}]}))
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"name": "b", "cases": [{"id": "c1", "prompt": "p", "expected": []}]}))
    args = [{"SUITE": str(suite), "BEATS": str(beats), "BAD": str(bad)}.get(a, a) for a in args]
    done = judge_test(*args, out=tmp_path / "runs")
    assert done.returncode == 2 and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "runs").exists()


def test_compare_gate_passes_the_same_and_fails_a_worse_run(tmp_path, files):
    _, judge_file, judge = files
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"id": f"p{i}", "prompt": f"Question {i}?"}) + "\n" for i in range(10)))
    args = ["--prompts", str(prompts), "--model-a", "scripted:A says.", "--model-b", "scripted:B says.", "--judge",
            judge]
    replies(judge_file, GOOD, POOR)
    first = judge_cli(*args, out=tmp_path / "runs")
    assert first.returncode == 0, first.stderr
    last_good = first.stdout.strip()
    same = judge_cli(*args, "--gate", last_good, out=tmp_path / "runs")
    assert same.returncode == 0 and "gate passed against" in same.stderr
    replies(judge_file, POOR, GOOD)
    worse = judge_cli(*args, "--gate", last_good, "--gate-margin", "0.1", out=tmp_path / "runs")
    assert worse.returncode == 1 and worse.stdout.strip() != last_good  # the new run folder is still printed
    assert "gate failed against" in worse.stderr and "1.00 -> 0.00" in worse.stderr
    other_judge = judge_cli(*args[:-1], "scripted:Relevance: 1", "--gate", last_good, out=tmp_path / "runs")
    assert other_judge.returncode == 2 and "scores of different judges do not compare" in other_judge.stderr
