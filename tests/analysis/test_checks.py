"""Judge-free checks (analysis/checks.py) and reference metrics (analysis/reference_metrics.py): tables of answers."""
import json

import pytest

from analysis.checks import Check, CheckError, CheckResult, checks_summary, count_words, parse_checks, run_checks
from analysis.reference_metrics import reference_metrics, score_bleu, score_rouge_l
from basics import PROMPTS_DIR, UserFacingError

GENERAL = PROMPTS_DIR / "general.jsonl"


def run_one(raw: dict, answer: str) -> CheckResult:
    (check,) = parse_checks([raw], "test")
    (result,) = run_checks([check], answer)
    return result


def words(n: int) -> str:
    return " ".join(["word"] * n)


# (check, answer, passed, detail): detail is the exact failure reason, or None to skip comparing it.
CASES = [
    # contains: case-insensitive unless asked, and by default
    ({"type": "contains", "value": "42"}, "The answer is 42.", True, ""),
    ({"type": "contains", "value": "42"}, "The answer is forty-two.", False, "not found"),
    ({"type": "contains", "value": "Canberra", "case_sensitive": False}, "CANBERRA", True, ""),
    ({"type": "contains", "value": "canberra"}, "It is Canberra.", True, ""),
    ({"type": "contains", "value": "Au", "case_sensitive": True}, "Au (aurum)", True, ""),
    ({"type": "contains", "value": "Au", "case_sensitive": True}, "au (aurum)", False,
     "not found (only with different case)"),
    ({"type": "contains", "value": "def f", "case_sensitive": True}, "lambda x: x", False, "not found"),
    ({"type": "contains", "value": "straße"}, "STRASSE", True, ""),  # casefold, not lower
    ({"type": "contains", "value": "x"}, "", False, "not found"),
    # not_contains
    ({"type": "not_contains", "value": "was written"}, "The intern wrote the report.", True, ""),
    ({"type": "not_contains", "value": "was written"}, "It Was Written by the intern.", False, "found once"),
    ({"type": "not_contains", "value": "was written", "case_sensitive": True}, "It Was Written.", True, ""),
    ({"type": "not_contains", "value": "a"}, "a a a", False, "found 3 times"),
    # regex: re.search with the pattern as given; case only ignored with (?i)
    ({"type": "regex", "pattern": r"x\s*=\s*6\b"}, "so x = 6.", True, None),
    ({"type": "regex", "pattern": r"x\s*=\s*6\b"}, "so x = 60.", False, "no match"),
    ({"type": "regex", "pattern": "(?i)affirming the consequent"}, "Affirming The Consequent", True, None),
    ({"type": "regex", "pattern": "affirming the consequent"}, "Affirming The Consequent", False, "no match"),
    ({"type": "regex", "pattern": "(?m)^\\s*5[.)]"}, "1. a\n2. b\n3. c\n4. d\n5. e", True, None),
    ({"type": "regex", "pattern": "(?m)^\\s*5[.)]"}, "1. a\n2. b and 5. e", False, "no match"),
    ({"type": "regex", "pattern": "Ann[\\s\\S]*Eve"}, "Ann,\nBen,\nEve", True, None),
    # word limits: whitespace-separated, limits inclusive
    ({"type": "max_words", "value": 5}, words(5), True, "5 words"),
    ({"type": "max_words", "value": 5}, words(6), False, "6 words"),
    ({"type": "max_words", "value": 5}, "", True, "0 words"),
    ({"type": "max_words", "value": 3}, "  one\ttwo\n\nthree  ", True, "3 words"),
    ({"type": "max_words", "value": 1}, "well-known, yes", False, "2 words"),
    ({"type": "min_words", "value": 70}, words(70), True, "70 words"),
    ({"type": "min_words", "value": 70}, words(69), False, "69 words"),
    ({"type": "min_words", "value": 2}, "one", False, "1 word"),
    # json: the whole answer, a ```json block, or a balanced {...} / [...] span in prose
    ({"type": "json"}, '{"a": 1, "b": [1, 2]}', True, "JSON found (the whole answer)"),
    ({"type": "json"}, '  [1, 2, 3]\n', True, "JSON found (the whole answer)"),
    ({"type": "json"}, 'Here you go:\n```json\n{"people": ["Maria Chen"]}\n```\nAnything else?', True,
     "JSON found (in a ```json block)"),
    ({"type": "json"}, '```JSON\n[{"a": 1}]\n```', True, "JSON found (in a ```json block)"),
    ({"type": "json"}, 'Sure! The result is {"level": "ERROR", "msg": "a } inside"} as requested.', True,
     "JSON found (a JSON object in the text)"),
    ({"type": "json"}, 'The years are [1215, 1440] in order.', True, "JSON found (a JSON array in the text)"),
    ({"type": "json"}, 'See [note 1] for details. {"a": 1}', True, "JSON found (a JSON object in the text)"),
    ({"type": "json"}, 'Unclosed [ bracket, then {"a": 1}', True, "JSON found (a JSON object in the text)"),
    ({"type": "json"}, '{"a": 1,}', False, None),
    ({"type": "json"}, "{'a': 1}", False, None),  # a Python dict is not JSON
    ({"type": "json"}, "{'n': [1, 2]}", False, None),  # nor does its inner list make it pass
    ({"type": "json"}, '```json\n{"a": 1\n```', False, None),
    ({"type": "json"}, '{"a": NaN}', False, None),
    ({"type": "json"}, "The answer is negative.", False, "no JSON object or array in the answer"),
    ({"type": "json"}, "", False, "no JSON object or array in the answer"),
    ({"type": "json"}, "{" * 5000, False, None),  # the span search is bounded: no hang
]


@pytest.mark.parametrize("raw,answer,passed,detail", CASES)
def test_check_table(raw, answer, passed, detail):
    result = run_one(raw, answer)
    assert result.passed is passed, result
    assert result.type == raw["type"]
    if detail is not None:
        assert result.detail == detail
    if not passed and raw["type"] == "json":
        assert result.detail  # a failure always says why


def test_malformed_json_says_where_the_parser_stopped():
    result = run_one({"type": "json"}, '{"a": 1,}')
    assert result.detail.startswith("not valid JSON: ") and "line 1 column" in result.detail


@pytest.mark.parametrize("raw,description", [
    ({"type": "contains", "value": "42"}, "contains '42'"),
    ({"type": "contains", "value": "Au", "case_sensitive": True}, "contains 'Au' (case-sensitive)"),
    ({"type": "not_contains", "value": "was written"}, "does not contain 'was written'"),
    ({"type": "regex", "pattern": r"x\s*=\s*6"}, r"matches /x\s*=\s*6/"),
    ({"type": "max_words", "value": 50}, "at most 50 words"),
    ({"type": "min_words", "value": 1}, "at least 1 word"),
    ({"type": "json"}, "valid JSON"),
])
def test_descriptions(raw, description):
    assert run_one(raw, "").description == description


def test_count_words_splits_on_whitespace():
    assert count_words("a  b\tc\nd\u00a0e") == 5
    assert count_words("   ") == 0


def test_check_to_dict_round_trips():
    raws = [{"type": "contains", "value": "x", "case_sensitive": True}, {"type": "not_contains", "value": "y"},
            {"type": "regex", "pattern": "a|b"}, {"type": "max_words", "value": 3}, {"type": "json"}]
    checks = parse_checks(raws, "test")
    assert parse_checks([c.to_dict() for c in checks], "test") == checks
    assert checks[1].to_dict() == {"type": "not_contains", "value": "y", "case_sensitive": False}


def test_run_checks_takes_raw_dicts_and_summary_lists_failures():
    raws = [{"type": "contains", "value": "42"}, {"type": "max_words", "value": 3}, {"type": "json"}]
    results = run_checks(raws, "The answer is 42.")
    assert [r.passed for r in results] == [True, False, False]
    assert checks_summary(results) == {"passed": 1, "total": 3, "failed": ["at most 3 words", "valid JSON"]}
    assert checks_summary([r.to_dict() for r in results]) == checks_summary(results)  # saved records too
    assert checks_summary([]) == {"passed": 0, "total": 0, "failed": []}
    assert json.loads(json.dumps(results[0].to_dict()))["description"] == "contains '42'"


def test_no_checks():
    assert parse_checks(None, "x") == ()
    assert parse_checks([], "x") == ()
    assert run_checks((), "anything") == []


# (raw checks, words the message must contain): each error names the check and says what to write instead.
BAD_CHECKS = [
    ([{"type": "startswith", "value": "x"}], ["check 1", "startswith", "contains", "json"]),
    ([{"value": "x"}], ["check 1", "no type", "contains"]),
    ([{"type": "json"}, {"type": "contains"}], ["check 2", "non-empty text \"value\""]),
    ([{"type": "contains", "value": ""}], ["check 1", "non-empty"]),
    ([{"type": "contains", "value": 42}], ["check 1", '"value": "42"']),
    ([{"type": "not_contains", "value": "x", "case_sensitive": "false"}], ["case_sensitive", "true or false"]),
    ([{"type": "regex"}], ["check 1", '"pattern"']),
    ([{"type": "regex", "pattern": "(unclosed"}], ["check 1", "does not compile", "(unclosed"]),
    ([{"type": "regex", "pattern": "\\d{5"}, {"type": "regex", "pattern": "*x"}], ["check 2", "does not compile"]),
    ([{"type": "regex", "pattern": "x", "case_sensitive": False}], ["case_sensitive", "(?i)"]),
    ([{"type": "max_words", "value": "50"}], ["check 1", "whole number", "'50'"]),
    ([{"type": "max_words", "value": 50.5}], ["whole number"]),
    ([{"type": "min_words", "value": True}], ["whole number"]),
    ([{"type": "min_words", "value": 0}], ["at least 1"]),
    ([{"type": "max_words"}], ["whole number", "None"]),
    ([{"type": "json", "value": 1}], ["does not take value", "remove it"]),
    ([{"type": "contains", "vaule": "x"}], ["does not take vaule"]),
    (["contains 42"], ["check 1", "must be an object"]),
    ({"type": "json"}, ["must be a list"]),
]


@pytest.mark.parametrize("raw,fragments", BAD_CHECKS)
def test_bad_checks_fail_at_load_naming_the_place(raw, fragments):
    with pytest.raises(CheckError) as info:
        parse_checks(raw, "general.jsonl line 12")
    message = str(info.value)
    assert message.startswith("general.jsonl line 12")
    for fragment in fragments:
        assert fragment in message, message
    assert isinstance(info.value, UserFacingError)


def test_bad_raw_check_at_run_time_is_a_check_error():
    with pytest.raises(CheckError, match="check 2"):
        run_checks([{"type": "json"}, {"type": "regex", "pattern": "("}], "{}")


def test_a_catastrophic_regex_is_stopped_and_recorded_as_failed(monkeypatch):
    import time

    import analysis.checks
    monkeypatch.setattr(analysis.checks, "REGEX_TIMEOUT_S", 0.2)
    started = time.perf_counter()
    result = run_one({"type": "regex", "pattern": "(x+x+)+y"}, "x" * 5000)
    assert time.perf_counter() - started < 2
    assert not result.passed and result.detail.startswith("stopped after 0.2 s") and "simplify it" in result.detail


@pytest.mark.parametrize("pattern, fragment", [
    ("a{99999999999}", "too large to compile"),
    ("(" * 3000 + ")" * 3000, "fewer nested groups"),
], ids=["huge repeat count", "groups nested thousands deep"])
def test_patterns_too_large_to_compile_are_check_errors(pattern, fragment):
    with pytest.raises(CheckError, match=fragment):
        parse_checks([{"type": "regex", "pattern": pattern}], "x.jsonl line 1")


def test_regex_checks_read_brackets_as_re_does():
    assert run_one({"type": "regex", "pattern": "[[a]"}, "x[").passed  # '[[a]' is the set of '[' and 'a'


def general_rows() -> list[tuple[int, dict]]:
    lines = GENERAL.read_text(encoding="utf-8").splitlines()
    return [(n, json.loads(line)) for n, line in enumerate(lines, 1) if line.strip()]


@pytest.mark.parametrize("number,row", general_rows(), ids=lambda v: v["id"] if isinstance(v, dict) else str(v))
def test_general_prompts_checks_load_and_pass_on_their_reference(number, row):
    checks = parse_checks(row.get("checks"), f"{GENERAL.name} line {number}")
    assert all(isinstance(c, Check) for c in checks)
    if checks and row.get("reference"):
        failed = [r for r in run_checks(checks, row["reference"]) if not r.passed]
        assert not failed, f"{row['id']}: fails on its own reference: {failed}"


def test_general_has_checks_worth_testing():
    rows = [row for _, row in general_rows()]
    assert sum(bool(r.get("checks") and r.get("reference")) for r in rows) >= 40
    assert {c["type"] for r in rows for c in r.get("checks", [])} == {
        "contains", "not_contains", "regex", "max_words", "min_words", "json"}


# Reference metrics

def test_identical_text_scores_full_marks():
    text = "The intern wrote the report, and the manager reviewed it."
    assert score_rouge_l(text, text) == 1.0
    assert score_bleu(text, text) == 100.0
    assert reference_metrics(text, text) == {"rouge_l": 1.0, "bleu": 100.0}


def test_disjoint_text_scores_zero():
    assert reference_metrics("apples bananas cherries", "Canberra is the capital") == {"rouge_l": 0.0, "bleu": 0.0}


def test_rouge_l_partial_overlap_by_hand():
    # answer "the cat sat on the mat" (6 tokens), reference "a cat on a mat" (5 tokens).
    # LCS = "cat on mat" = 3 tokens; precision = 3/6 = 0.5, recall = 3/5 = 0.6,
    # F1 = 2 * 0.5 * 0.6 / (0.5 + 0.6) = 0.6 / 1.1 = 6/11 = 0.54545...
    assert score_rouge_l("the cat sat on the mat", "a cat on a mat") == pytest.approx(6 / 11, abs=1e-4)


def test_rouge_l_lowercases_and_stems_offline():
    # The Porter stemmer is code, not downloaded NLTK data: "Cats" -> "cat", "running"/"runs" -> "run".
    assert score_rouge_l("Cats running", "cat runs") == 1.0


def test_bleu_partial_overlap_is_between():
    assert 0.0 < score_bleu("The cat sat on the mat today", "The cat sat on a mat") < 100.0


@pytest.mark.parametrize("reference", [None, "", "   \n"])
def test_no_reference_no_metrics(reference):
    assert reference_metrics("some answer", reference) is None


def test_empty_answer_scores_zero():
    assert reference_metrics("", "Canberra.") == {"rouge_l": 0.0, "bleu": 0.0}
