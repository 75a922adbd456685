"""Suite files: every malformed suite is refused at load with the file, the case and the fix named; judge thresholds
are checked against the judge template's rubric before any model loads; pass rates read as people write them."""
import pytest

from evals.suite import Case, SuiteError, load_suite, parse_suite
from judge.rubric import Rubric

GOOD_CASE = {"id": "c1", "prompt": "Say hi.", "expect": [{"type": "contains", "value": "hi"}]}


def suite(**changes):
    return {"name": "s", "cases": [GOOD_CASE], **changes}


def case(**changes):
    return suite(cases=[{**GOOD_CASE, **changes}])


BAD_SUITES = [
    ("not a mapping", ["a", "list"], "a suite is a YAML mapping"),
    ("no name", {"cases": [GOOD_CASE]}, "needs a name"),
    ("a typo in a suite key", suite(case=[]), "does not take case; remove it"),
    ("no cases", suite(cases=[]), "non-empty list of cases"),
    ("unknown mode", suite(mode="both"), "mode must be single or pairwise"),
    ("unknown preset", suite(settings={"preset": "p9"}), "unknown preset 'p9'"),
    ("a setting that is not a number", suite(settings={"max_new_tokens": "lots"}), "max_new_tokens must be a whole"),
    ("a setting out of its range", suite(settings={"max_new_tokens": 0}),
     "settings: max_new_tokens must be 1..8192, got 0; change it in the suite"),
    ("a judge temperature out of its range", suite(settings={"judge_temperature": 9}), "temperature must be between"),
    ("a case without a prompt", suite(cases=[{"id": "c1", "expect": [{"min_total": 3}]}]), "needs a prompt"),
    ("a case without an id", suite(cases=[{"prompt": "p", "expect": [{"min_total": 3}]}]), "needs an id"),
    ("a case that asks nothing", case(expect=[]), "asks nothing of the answer; add expect"),
    ("a typo in a case key", case(expects=[]), "does not take expects"),
    ("two cases with one id", suite(cases=[GOOD_CASE, GOOD_CASE]), "case id 'c1' appears twice"),
    ("an unknown check", case(expect=[{"type": "containz", "value": "x"}]), "unknown check (type 'containz')"),
    ("a check missing its value", case(expect=[{"type": "contains"}]), 'needs a non-empty text "value"'),
    ("a regex that does not compile", case(fail_if=[{"type": "regex", "pattern": "(a"}]), "does not compile"),
    ("an unknown mode", case(expect=[{"max_total": 3}]), "a mode is one of: a check"),
    ("two modes in one item", case(expect=[{"min_total": 3, "beats_baseline": True}]), "a mode is one of"),
    ("min_total that is not a number", case(expect=[{"min_total": "nine"}]), "min_total must be a positive number"),
    ("judge without a bound", case(expect=[{"judge": {"criterion": "relevance"}}]), "one number, at_least or at_most"),
    ("judge with both bounds", case(expect=[{"judge": {"criterion": "relevance", "at_least": 2, "at_most": 3}}]),
     "one number, at_least or at_most"),
    ("judge without a criterion", case(expect=[{"judge": {"at_least": 2}}]), "judge takes {criterion: NAME"),
    ("a negative margin", case(expect=[{"beats_baseline": {"margin": -1}}]), "margin must be a number"),
    ("a margin typo", case(expect=[{"beats_baseline": {"margn": 1}}]), "beats_baseline is true or {margin"),
    ("no samples", case(samples=0), "samples must be a whole number from 1"),
    ("a pass rate as a percentage", case(pass_rate=80), "pass_rate must be a share above 0 and at most 1"),
    ("a zero pass rate", case(pass_rate=0), "pass_rate must be a share above 0"),
]


@pytest.mark.parametrize("data, message", [pytest.param(d, m, id=name) for name, d, m in BAD_SUITES])
def test_a_malformed_suite_is_refused_naming_the_problem(data, message):
    with pytest.raises(SuiteError) as error:
        parse_suite(data, "suite.yaml")
    assert message in str(error.value) and "suite.yaml" in str(error.value)


def test_errors_name_the_case_and_the_mode():
    with pytest.raises(SuiteError, match=r"case 1 \(c1\), fail_if, mode 2: unknown check"):
        parse_suite(case(fail_if=[{"type": "json"}, {"type": "nope"}]), "suite.yaml")


def test_a_file_that_is_not_yaml_or_not_there_is_named(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: s\ncases: [\n")
    with pytest.raises(SuiteError, match="broken.yaml: not valid YAML"):
        load_suite(broken)
    with pytest.raises(SuiteError, match="no suite file 'missing.yaml'.*shipped suite \\(.*study"):
        load_suite("missing.yaml")


def test_a_good_suite_loads_with_its_defaults_and_modes():
    loaded = parse_suite(suite(defaults={"samples": 3, "pass_rate": 0.67}, cases=[
        {**GOOD_CASE, "fail_if": [{"judge": {"criterion": "coherence", "at_most": 1}}]},
        {"id": 2, "prompt": "p", "samples": 1, "expect": [{"beats_baseline": {"margin": 2}}, {"min_total": 9}]}]),
        "suite.yaml")
    first, second = loaded.cases
    assert (first.samples, first.pass_rate, first.needed) == (3, 0.67, 2)
    assert [m.description for m in first.modes] == ["contains 'hi'", "coherence at most 1"]
    assert second.id == "2" and second.samples == 1
    assert [m.description for m in second.modes] == ["beats the baseline by 2 points or more", "total at least 9"]
    assert loaded.needs_baseline == ["2"]


@pytest.mark.parametrize("rate, samples, needed", [(1.0, 5, 5), (0.8, 5, 4), (0.67, 3, 2), (0.7, 3, 3),
                                                   (0.5, 2, 1), (0.01, 4, 1), (0.99, 100, 99)])
def test_the_samples_needed_follow_the_pass_rate_read_to_two_decimals(rate, samples, needed):
    assert Case("c", "p", samples=samples, pass_rate=rate).needed == needed


@pytest.mark.parametrize("mode, message", [
    ({"judge": {"criterion": "fluency", "at_least": 3}}, "no criterion 'fluency'; use one of relevance, coherence"),
    ({"judge": {"criterion": "relevance", "at_least": 5}}, "5 is off the template's scale 1-4"),
    ({"min_total": 13}, "highest total is 12"),
])
def test_judge_thresholds_are_checked_against_the_rubric(mode, message):
    loaded = parse_suite(case(expect=[mode]), "suite.yaml")
    with pytest.raises(SuiteError, match=message):
        loaded.check_rubric(Rubric())
    loaded.check_rubric(Rubric(("relevance", "fluency"), (1, 20)))  # the same modes fit a wider rubric


def test_the_shipped_study_suite_covers_the_study_prompts():
    from runs.prompt_sets import load_prompt_set

    shipped = load_suite("study")
    study = {item.id: item.prompt for item in load_prompt_set("study")}
    assert {c.id: c.prompt for c in shipped.cases} == study
    shipped.check_rubric(Rubric())
    assert any(c.samples > 1 for c in shipped.cases) and not shipped.needs_baseline
