"""The judge lab's `validate` and `distill` join runs/cli.py's parser from above (runs/ cannot import the lab):
`python -m judge` lists them, runs/cli.py alone does not, and their errors come out as the CLI's one line, status 2."""
import subprocess
import sys

import pytest

from lab.cli import LAB_COMMANDS
from runs.cli import main

from helpers import REPO_ROOT


def test_python_m_judge_lists_the_lab_commands_after_compare():
    done = subprocess.run([sys.executable, "-m", "judge", "--help"], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "{compare,validate,distill,test,sweep}" in done.stdout


def test_runs_cli_alone_has_no_lab_commands(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["validate", "--pairs", "good_vs_broken_pairs"])
    assert exit_.value.code == 2 and "invalid choice: 'validate'" in capsys.readouterr().err


@pytest.mark.parametrize("argv, expected", [
    (["validate", "--pairs", "good_vs_broken_pairs", "--limit", "-1"], "error: --limit must be 0 (every row) or more"),
    (["distill", "--data", "x.jsonl", "--limit", "-2"], "error: --limit must be 0 (every row) or more"),
    (["validate", "--pairs", "/no/such.jsonl", "--judge", "scripted:A"], "error: labelled file '/no/such.jsonl' not"),
    (["distill", "--data", "/no/such.jsonl", "--baseline", "none"], "error: labelled file '/no/such.jsonl' not"),
    (["validate", "--pairs", "\udcff"], "error: --pairs holds text that is not UTF-8 (byte 0xff at character 1)"),
])
def test_lab_errors_are_one_line_and_status_2(capsys, argv, expected):
    assert main(argv, more_commands=LAB_COMMANDS) == 2
    err = capsys.readouterr().err
    assert err.startswith(expected) and len(err.strip().splitlines()) == 1
