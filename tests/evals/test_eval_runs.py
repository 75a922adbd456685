"""Suites run on scripted models (given replies, no weights): sample rounds and pass rates, an unreadable judge reply
failing the case with its reason, the pytest-like report and the JUnit XML read back with xml.etree."""
import xml.etree.ElementTree as ET

import pytest
import yaml

from evals.report import text_report, write_junit
from evals.runner import EvalConfig, run_suite
from evals.suite import SuiteError
from models.registry import unload_all
from runs.store import load_run

from helpers import REPO_ROOT

pytestmark = pytest.mark.usefixtures("fresh_models")  # scripted models start from their first reply

GOOD = "Relevance: 4\\nCoherence: 4\\nCompleteness: 3\\nReasons: thorough and on topic"
POOR = "Relevance: 2\\nCoherence: 1\\nCompleteness: 1\\nReasons: rambles off topic"


def write_suite(tmp_path, cases, **more) -> str:
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump({"name": "demo", "cases": cases, **more}))
    return str(path)


def judge(*replies) -> str:
    """A scripted judge answering in turn: each record asks it about A, then B."""
    return "scripted:" + "||".join(replies)


def run(tmp_path, suite_cases, judge_spec, model="scripted:Mix flour, cocoa and sugar; bake.", **config):
    suite = write_suite(tmp_path, suite_cases)
    return run_suite(EvalConfig(suite=suite, model=model, judges=[judge_spec], out_dir=str(tmp_path / "runs"),
                                **config))


def test_samples_are_rounds_and_a_case_passes_on_its_pass_rate(tmp_path):
    """Five samples, A scored good, good, poor, good, good: 4 of 5 reach min_total 9; 0.8 needs 4, 1.0 all 5."""
    replies = [GOOD, POOR, GOOD, POOR, POOR, POOR, GOOD, POOR, GOOD, POOR]
    cases = [{"id": "c1", "prompt": "Bake a cake.", "samples": 5, "pass_rate": 0.8, "expect": [{"min_total": 9}]}]
    result = run(tmp_path, cases, judge(*replies))
    (case,) = result.cases
    assert [s.passed for s in case.samples] == [True, True, False, True, True]
    assert case.passed and case.n_passed == 4 and case.mode_counts() == [("total at least 9", 4, 5)]
    assert len(result.run_dirs) == 5 and [load_run(d).records[0]["sampling"]["seed"] for d in result.run_dirs] == [
        0, 1, 2, 3, 4]  # each round its own seed: five draws, not one answer five times
    unload_all()
    strict = run(tmp_path, [{**cases[0], "pass_rate": 1.0}], judge(*replies))
    assert not strict.cases[0].passed and strict.failed == strict.cases


def test_an_unreadable_judge_reply_fails_the_case_with_its_reason(tmp_path):
    cases = [{"id": "c1", "prompt": "Bake a cake.", "expect": [{"type": "contains", "value": "cocoa"}],
              "fail_if": [{"judge": {"criterion": "relevance", "at_most": 1}}]}]
    result = run(tmp_path, cases, judge("I think it is lovely."))
    (case,) = result.cases
    assert not case.passed
    (sample,) = case.samples
    assert [m.passed for m in sample.modes] == [True, False]
    assert "could not be read" in sample.modes[1].reason and "I think it is lovely." in sample.modes[1].reason
    report = text_report(result)
    assert "FAILED c1" in report and "Mix flour, cocoa and sugar; bake." in report
    assert "FAILED not: relevance at most 1: the judge's verdict could not be read" in report
    assert "1 failed in" in report


def test_the_report_and_junit_xml_say_what_passed_and_why_the_rest_failed(tmp_path):
    cases = [{"id": "good", "prompt": "Bake a cake.", "expect": [{"min_total": 9},
                                                                 {"judge": {"criterion": "coherence", "at_least": 3}}]},
             {"id": "bad", "prompt": "Bake bread.", "expect": [{"type": "contains", "value": "yeast"},
                                                               {"min_total": 9}]}]
    result = run(tmp_path, cases, judge(GOOD, POOR, POOR, GOOD))
    report = text_report(result)
    assert "PASSED good" in report and "FAILED bad" in report
    assert "FAIL contains 'yeast': 0/1" in report and "ok   total at least 9: 1/1" in report
    assert "FAILED total at least 9: total 4" in report and "judge's reasons: rambles off topic" in report
    assert "1 failed, 1 passed in" in report
    path = write_junit(result, tmp_path / "out" / "junit.xml")
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    assert (suite.get("name"), suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("demo", "2", "1",
                                                                                                   "0")
    cases_xml = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(cases_xml) == {"good", "bad"} and all(c.get("classname") == "evals.demo" for c in cases_xml.values())
    assert cases_xml["good"].find("failure") is None
    failure = cases_xml["bad"].find("failure")
    assert "contains 'yeast'" in failure.get("message") and "total at least 9" in failure.get("message")
    assert "rambles off topic" in failure.text and "Bake bread." in failure.text
    properties = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert properties["model"].startswith("scripted:Mix flour") and str(result.run_dirs[0]) in properties["run_dirs"]


def test_beats_baseline_compares_with_the_baseline_and_needs_one(tmp_path):
    cases = [{"id": "c1", "prompt": "Bake a cake.", "expect": [{"beats_baseline": {"margin": 3}}]}]
    with pytest.raises(SuiteError, match="ask whether the model beats the baseline: give --baseline"):
        run(tmp_path, cases, judge(GOOD))
    result = run(tmp_path, cases, judge(GOOD, POOR), baseline="scripted:Buy a cake.")
    assert result.cases[0].passed
    record = load_run(result.run_dirs[0]).records[0]
    assert record["answers"]["B"]["text"] == "Buy a cake." and record["winner"] == "A"


def test_only_the_cases_asked_for_run(tmp_path):
    cases = [{"id": c, "prompt": f"Prompt {c}.", "expect": [{"min_total": 3}]} for c in ("a", "b", "c")]
    result = run(tmp_path, cases, judge(GOOD), cases=["b"])
    assert [c.case.id for c in result.cases] == ["b"]
    with pytest.raises(SuiteError, match="has no case 'z'; its cases: a, b, c"):
        run(tmp_path, cases, judge(GOOD), cases=["z"])


AB_FIRST = "Relevance: A=4 B=2\\nCoherence: A=3 B=3\\nCompleteness: A=4 B=1\\nVerdict: [[A]]\\nReasons: first is better"
BA_SECOND = "Relevance: A=2 B=4\\nCoherence: A=3 B=3\\nCompleteness: A=1 B=4\\nVerdict: [[B]]\\nReasons: second is better"


def test_pairwise_beats_baseline_reads_the_verdict_over_both_orders(tmp_path):
    """The judge prefers the model's answer in both orders (shown first, then second): a consistent win by 5 points."""
    cases = [{"id": "c1", "prompt": "Bake a cake.", "expect": [{"beats_baseline": {"margin": 4}}]}]
    suite = write_suite(tmp_path, cases, mode="pairwise")
    config = EvalConfig(suite=suite, model="scripted:Mine.", baseline="scripted:Theirs.",
                        judges=[judge(AB_FIRST, BA_SECOND)], out_dir=str(tmp_path / "runs"))
    (case,) = run_suite(config).cases
    assert case.passed and case.samples[0].modes[0].reason == "won by 5 points (11 to 6)"
    unload_all()
    (case,) = run_suite(EvalConfig(**{**config.__dict__, "judges": [judge("Both are fine.")]})).cases
    (mode,) = case.samples[0].modes
    assert not case.passed and "could not be read" in mode.reason and "Both are fine." in mode.reason


def test_control_characters_in_an_answer_leave_the_junit_file_valid_xml(tmp_path):
    answers = tmp_path / "answers.json"
    answers.write_text('["\\u001b[31mred\\u001b[0m and a NUL \\u0000 here"]')
    cases = [{"id": "c1", "prompt": "Colour?", "expect": [{"type": "contains", "value": "blue"}]}]
    result = run(tmp_path, cases, judge(GOOD), model=f"scripted:@{answers}")
    assert "\x1b[31mred" in result.cases[0].samples[0].answer  # the report and the run keep it as it was
    failure = ET.parse(write_junit(result, tmp_path / "junit.xml")).getroot().find(".//failure")
    assert "\ufffd[31mred\ufffd[0m and a NUL \ufffd here" in failure.text


def test_a_template_file_named_by_the_suite_is_found_beside_it(tmp_path, monkeypatch):
    (tmp_path / "my_judge.yaml").write_text((REPO_ROOT / "prompts" / "judge_single.yaml").read_text()
                                            .replace("name: rubric-single", "name: my-judge"))
    cases = [{"id": "c1", "prompt": "Bake a cake.", "expect": [{"min_total": 9}]}]
    monkeypatch.chdir(REPO_ROOT / "prompts")  # the suite's folder is not the working folder
    result = run_suite(EvalConfig(suite=write_suite(tmp_path, cases, template="my_judge.yaml"), model="scripted:x",
                                  judges=[judge(GOOD)], out_dir=str(tmp_path / "runs")))
    assert result.cases[0].passed
    assert load_run(result.run_dirs[0]).manifest["judge_template"]["name"] == "my-judge"
