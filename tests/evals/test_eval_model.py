"""The shipped study suite end to end on the real embedded model and the default judge: one case, short answers,
through the CLI as CI runs it; the report, the JUnit file and the exit status agree."""
import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from runs.store import load_run

from helpers import REPO_ROOT


@pytest.mark.model
def test_the_shipped_study_suite_runs_on_the_embedded_model(tmp_path):
    junit = tmp_path / "junit.xml"
    done = subprocess.run([sys.executable, "-m", "judge", "test", "study", "--model", "smollm2-135m-gguf", "--case",
                           "study-02", "--max-new-tokens", "24", "--junit", str(junit), "--out", str(tmp_path / "runs")],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    passed = done.returncode == 0
    assert f"{'PASSED' if passed else 'FAILED'} study-02" in done.stdout
    assert "total at least 6: " in done.stdout and "matches /(?i)flour|cocoa|chocolate/: " in done.stdout
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite.get("tests") == "1" and suite.get("failures") == ("0" if passed else "1")
    (folder,) = [f for f in (tmp_path / "runs").iterdir() if (f / "run.json").is_file()]
    (record,) = load_run(folder).records
    (outcome,) = (tmp_path / "runs").glob("*-suite-study/suite.json")  # what the Results tab's history reads
    assert json.loads(outcome.read_text())["passed"] == (["study-02"] if passed else [])
    assert record["id"] == "study-02" and record["answers"]["A"]["n_tokens"] <= 24
    assert record["judge"] == "smollm2-135m-judge" and record["totals"]["A"] is not None
