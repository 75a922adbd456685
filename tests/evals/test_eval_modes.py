"""A case's modes read off one record: expect must hold, fail_if must not, and a verdict the judge's reply could not
give fails every judge mode with its reason, in either list: never a pass."""
import pytest

from evals.modes import evaluate_sample, holds
from evals.suite import parse_suite


def record(a=(4, 3, 4), b=(2, 2, 1), winner="A", text="Mix flour and cocoa.", status=None, **extra):
    scores = {side: dict(zip(("relevance", "coherence", "completeness"), s)) if s else None
              for side, s in (("A", a), ("B", b))}
    found = {"id": "c1", "status": status or ("ok" if a and b else "unparsed"), "winner": winner, "scores": scores,
             "totals": {side: sum(s.values()) if s else None for side, s in scores.items()},
             "answers": {"A": {"text": text}, "B": {"text": "other"}}, "reasons": {"A": "clear and on topic"},
             "judgement": {"A": {"status": "ok" if a else "unparsed", "call": {
                 "error": None if a else "no 'Relevance: <1-4>' line", "raw_replies": [] if a else ["I like it."]}}}}
    return {**found, **extra}


def case(expect=(), fail_if=(), **more):
    data = {"name": "s", "cases": [{"id": "c1", "prompt": "p", "expect": list(expect), "fail_if": list(fail_if),
                                    **more}]}
    return parse_suite(data, "suite.yaml").cases[0]


def only_mode(mode_dict):
    return case([mode_dict]).expect[0]


@pytest.mark.parametrize("mode, rec, expected, detail", [
    ({"type": "contains", "value": "cocoa"}, record(), True, "found"),
    ({"type": "contains", "value": "eggs"}, record(), False, "not found"),
    ({"type": "max_words", "value": 2}, record(), False, "4 words"),
    ({"min_total": 11}, record(), True, "total 11"),
    ({"min_total": 12}, record(), False, "total 11"),
    ({"judge": {"criterion": "coherence", "at_least": 3}}, record(), True, "coherence 3"),
    ({"judge": {"criterion": "coherence", "at_least": 4}}, record(), False, "coherence 3"),
    ({"judge": {"criterion": "relevance", "at_most": 2}}, record(), False, "relevance 4"),
    ({"beats_baseline": True}, record(), True, "the judge preferred it"),
    ({"beats_baseline": True}, record(winner="tie"), False, "called it a tie"),
    ({"beats_baseline": True}, record(winner="B"), False, "preferred the baseline"),
    ({"beats_baseline": {"margin": 6}}, record(), True, "won by 6 points (11 to 5)"),
    ({"beats_baseline": {"margin": 7}}, record(), False, "won by 6 points"),
])
def test_each_mode_holds_or_not_with_what_was_found(mode, rec, expected, detail):
    found, said = holds(only_mode(mode), rec)
    assert found is expected and detail in said


@pytest.mark.parametrize("mode", [{"min_total": 1}, {"judge": {"criterion": "relevance", "at_least": 1}},
                                  {"beats_baseline": True}])
def test_an_unread_verdict_cannot_be_told_and_says_why(mode):
    unparsed = record(a=None, winner=None)
    found, said = holds(only_mode(mode), unparsed)
    assert found is None
    assert "could not be read (no 'Relevance: <1-4>' line)" in said and "'I like it.'" in said


def test_an_unread_verdict_fails_the_sample_in_expect_and_in_fail_if_alike():
    """fail_if coherence at most 1 is 'not shown' when nothing was read: that is no pass either."""
    unparsed = record(a=None, winner=None)
    sample = evaluate_sample(case(fail_if=[{"judge": {"criterion": "coherence", "at_most": 1}}]), unparsed, 1)
    assert not sample.passed and "could not be read" in sample.modes[0].reason
    sample = evaluate_sample(case([{"min_total": 3}]), unparsed, 1)
    assert not sample.passed
    # the judge-free checks still read the answer
    sample = evaluate_sample(case([{"type": "contains", "value": "flour"}]), unparsed, 1)
    assert sample.passed


def test_a_failed_record_fails_every_mode_with_its_error():
    failed = record(status="failed", error="model A failed on this prompt (RuntimeError: boom)")
    sample = evaluate_sample(case([{"type": "contains", "value": "flour"}], [{"type": "json"}]), failed, 1)
    assert [m.passed for m in sample.modes] == [False, False]
    assert all("boom" in m.reason for m in sample.modes)


def test_fail_if_passes_only_when_its_mode_does_not_hold():
    rule = case([{"min_total": 3}], [{"type": "regex", "pattern": "(?i)as an ai"}])
    assert evaluate_sample(rule, record(), 1).passed
    sample = evaluate_sample(rule, record(text="As an AI, I cannot bake."), 2)
    assert not sample.passed and sample.modes[1].description.startswith("not: matches")
    assert sample.answer == "As an AI, I cannot bake." and sample.reasons == "clear and on topic" and sample.number == 2


def test_a_margin_needs_scores_to_be_measured():
    verdict_only = record(winner="A")
    verdict_only["totals"] = {"A": None, "B": None}
    found, said = holds(only_mode({"beats_baseline": {"margin": 1}}), verdict_only)
    assert found is None and "without scores" in said
    assert holds(only_mode({"beats_baseline": True}), verdict_only)[0] is True


def test_a_criterion_the_judge_did_not_score_is_no_pass():
    rec = record()
    rec["scores"]["A"] = {"preference": 3.0}
    found, said = holds(only_mode({"judge": {"criterion": "relevance", "at_least": 1}}), rec)
    assert found is None and "no relevance score (it scored preference)" in said
