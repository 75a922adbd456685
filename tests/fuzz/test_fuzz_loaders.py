"""Fuzzed loaders: model specs (models/spec.py), judge templates (judge/templates.py), prompt sets in JSONL and CSV
(runs/prompt_sets.py) and the checks they carry (analysis/checks.py). Every input, arbitrary bytes included, ends
in a value or the module's own user-facing error, within a time bound."""
import csv
import io
import json
import time
from unittest import mock

import pytest
import yaml
from fuzz_settings import LONG_INPUT_SECONDS, fuzz
from hypothesis import given
from hypothesis import strategies as st

import analysis.checks
from analysis.checks import CheckResult, run_checks
from basics import UserFacingError
from judge.templates import JudgeTemplate, TemplateError, load_template, parse_template
from models.errors import ModelSpecError
from models.spec import ModelSpec, parse_model_spec
from runs.prompt_sets import PromptItem, PromptSetError, load_prompt_set


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """One folder for the files the examples write (hypothesis runs many examples per test call)."""
    return tmp_path_factory.mktemp("fuzz")


# --------------------------------------------------------------------------------------------- model specs

SPEC_PIECES = ["smollm2-135m", "-gguf", "+", "/", "~", "~root", "~nosuchuser", ".", "..", "\x00", "a" * 300, "org/name",
               "openai:", "@http://", "[", "head:", "scripted:", "x.gguf", " ", "\n", "adapters", "é"]
specs = st.one_of(st.text(max_size=80), st.lists(st.sampled_from(SPEC_PIECES), max_size=8).map("".join))


@fuzz(300)
@given(text=specs)
def test_model_specs_end_in_a_spec_or_a_spec_error(text):
    try:
        spec = parse_model_spec(text)
    except ModelSpecError:
        return
    assert isinstance(spec, ModelSpec) and spec.text


def test_a_spec_past_every_length_limit_is_refused_quickly():
    started = time.perf_counter()
    for text in ("a" * 100_000, "a/" * 50_000, "smollm2-135m+" * 10_000, " " * 100_000 + "x"):
        with pytest.raises(ModelSpecError):
            parse_model_spec(text)
    assert time.perf_counter() - started < LONG_INPUT_SECONDS


# --------------------------------------------------------------------------------------------- templates

TEMPLATE_TEXT = ["{prompt}", "{answer}", "{answer_a}", "{answer_b}", "{reference}", "{output_format}", "{", "}", "{{",
                 "}}", ":>9", "!r", "[0]", ".x", "{}", "{0}", "text ", "\n"]
template_texts = st.lists(st.sampled_from(TEMPLATE_TEXT), max_size=10).map("".join)
# YAML values of every type a careless or hostile author might put in a field.
yaml_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10, 10**12), st.floats(allow_nan=False), st.text(max_size=20),
              template_texts),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8)
VALID_TEMPLATES = {
    "single": {"template": "Q: {prompt}\nA: {answer}\n{output_format}", "criteria": ["relevance"], "scale": [1, 4],
               "output_format": "Relevance: <1-4>"},
    "pairwise": {"template": "{prompt} {answer_a} {answer_b} {reference}", "criteria": ["relevance"], "scale": [1, 4],
                 "output_format": "[[A]] or [[B]] or [[tie]]\nRelevance: A=<1-4> B=<1-4>"},
    "label": {"template": "{answer}\n{output_format}", "labels": ["toxic", "non_toxic"],
              "output_format": "Label: [[toxic]] or [[non_toxic]]"},
}
FIELDS = ["name", "mode", "template", "output_format", "system", "description", "criteria", "scale", "labels"]


@st.composite
def template_fields(draw) -> dict:
    """A valid template of a drawn mode with up to three fields replaced by anything (or removed): most examples
    sit one or two mistakes away from loading, where the validation has to be right."""
    mode = draw(st.sampled_from(sorted(VALID_TEMPLATES)))
    fields = {"name": "t", "mode": mode, "system": "Be fair.", **VALID_TEMPLATES[mode]}
    for key in draw(st.lists(st.sampled_from(FIELDS), max_size=3, unique=True)):
        value = draw(st.one_of(st.none(), template_texts, yaml_values, st.sampled_from(
            ["Relevance: <1-99999999999>", "Relevance: <4-1>", "[[toxic]] or [[non_toxic]]", "pairwise", "label"])))
        if value is None:
            fields.pop(key, None)
        else:
            fields[key] = value
    return fields


def check_template(text: str) -> None:
    """Parse; a template that loads must render without error, each placeholder adding only its value."""
    try:
        template = parse_template(text, source="fuzz.yaml")
    except TemplateError:
        return
    assert isinstance(template, JudgeTemplate)
    values = {"prompt": "P", "answer": "A", "answer_a": "A1", "answer_b": "B1", "reference": "R"}
    messages = template.render(**values)
    longest_value = max(len(template.output_format), 2)
    bound = len(template.system) + len(template.template) + template.template.count("{") * longest_value
    assert sum(len(m["content"]) for m in messages) <= bound


@fuzz(300)
@given(fields=template_fields())
def test_templates_of_any_field_types_end_in_a_template_or_a_template_error(fields):
    check_template(yaml.safe_dump(fields, allow_unicode=True))


@fuzz(200)
@given(text=st.one_of(st.text(max_size=200), st.lists(st.sampled_from(
    ["name: t\n", "mode: single\n", "template: ", "output_format: ", "&a ", "*a", "[", "{", "- ", "!!int x",
     "2001-13-14", "!!timestamp x", "\n", "  ", ": ", "|\n  ", "'", '"']), max_size=15).map("".join)))
def test_any_yaml_text_ends_in_a_template_or_a_template_error(text):
    check_template(text)


@fuzz(150)
@given(data=st.binary(max_size=300))
def test_template_files_of_any_bytes_end_in_a_template_or_a_template_error(folder, data):
    path = folder / "fuzz.yaml"
    path.write_bytes(data)
    try:
        load_template(path)
    except TemplateError:
        pass


def test_deeply_nested_yaml_is_refused_quickly():
    started = time.perf_counter()
    for text in ("a: " + "[" * 100_000, "a: " + "{" * 100_000, "- " * 50_000 + "x"):
        with pytest.raises(TemplateError, match="nest lists and mappings less deeply"):
            parse_template(text)
    assert time.perf_counter() - started < 5 * LONG_INPUT_SECONDS  # PyYAML is pure Python: 100k tokens take a while


# --------------------------------------------------------------------------------------------- prompt sets

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8)
checks = st.lists(st.one_of(json_values, st.fixed_dictionaries(
    {"type": st.sampled_from(["contains", "not_contains", "regex", "max_words", "min_words", "json", "x"])},
    optional={"value": json_values, "pattern": st.one_of(st.sampled_from(["\\d+", "(", "a{99999999999}"]), json_values),
              "case_sensitive": json_values})), max_size=3)
PROMPT_FIELDS = ["id", "prompt", "category", "reference", "checks"]


@st.composite
def prompt_rows(draw) -> object:
    """A valid prompt line with up to two fields replaced by anything (or removed), or any JSON value at all."""
    row = {"id": draw(st.text(min_size=1, max_size=4)), "prompt": "Say 42.", "category": "c", "reference": "42",
           "checks": [{"type": "contains", "value": "42"}, {"type": "regex", "pattern": "\\d+"}]}
    for key in draw(st.lists(st.sampled_from(PROMPT_FIELDS), max_size=2, unique=True)):
        value = draw(st.one_of(st.none(), json_values, checks))
        if value is None:
            row.pop(key)
        else:
            row[key] = value
    return draw(st.one_of(st.just(row), json_values))


def check_prompt_set(path) -> None:
    try:
        items = load_prompt_set(path)
    except (PromptSetError, analysis.checks.CheckError):
        return
    assert items and all(isinstance(item, PromptItem) and item.prompt for item in items)
    assert len({item.id for item in items}) == len(items)


@fuzz(200)
@given(rows=st.lists(prompt_rows(), max_size=4), bom=st.booleans())
def test_jsonl_prompt_sets_end_in_prompts_or_a_prompt_set_error(folder, rows, bom):
    path = folder / "fuzz.jsonl"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + "".join(json.dumps(r) + "\n" for r in rows).encode())
    check_prompt_set(path)


@fuzz(200)
@given(header=st.lists(st.sampled_from(["id", "prompt", "category", "reference", "checks", "x", ""]), max_size=5),
       rows=st.lists(st.lists(st.one_of(st.text(max_size=20), checks.map(json.dumps)), max_size=6), max_size=4),
       bom=st.booleans())
def test_csv_prompt_sets_end_in_prompts_or_a_prompt_set_error(folder, header, rows, bom):
    text = io.StringIO()
    csv.writer(text).writerows([header, *rows])
    path = folder / "fuzz.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.getvalue().encode("utf-8", "surrogatepass"))
    check_prompt_set(path)


@fuzz(150)
@given(data=st.binary(max_size=300), suffix=st.sampled_from([".jsonl", ".csv"]))
def test_prompt_set_files_of_any_bytes_end_in_prompts_or_a_prompt_set_error(folder, data, suffix):
    path = folder / f"bytes{suffix}"
    path.write_bytes(data)
    check_prompt_set(path)


@pytest.mark.parametrize("name, data", [
    ("fuzz.jsonl", b"[" * 100_000 + b"\n"),
    ("fuzz.jsonl", b'{"prompt": ' + b"1" * 100_000 + b"}\n"),
    ("fuzz.jsonl", b'{"prompt": "' + b" " * 1_000_000 + b'x"}\n' * 3),
    ("fuzz.csv", b"prompt\n" + b"a" * 200_000 + b"\n"),
    ("fuzz.csv", b'prompt,checks\nhi,"' + b"[" * 100_000 + b'"\n'),
], ids=["100k nested [", "a 100k-digit number", "3 prompts of 1M spaces", "a 200k-character CSV field",
        "100k nested [ in a checks cell"])
def test_long_prompt_set_lines_are_read_or_refused_quickly(folder, name, data):
    path = folder / name
    path.write_bytes(data)
    started = time.perf_counter()
    check_prompt_set(path)
    assert time.perf_counter() - started < LONG_INPUT_SECONDS


# --------------------------------------------------------------------------------------------- checks on answers

PATTERN_PIECES = ["a", "+", "*", "(", ")", "|", "?", "[", "]", "^", "$", "\\", "{2}", ".", "\\d", "(?i)"]


@fuzz(200)
@given(raw=checks, answer=st.one_of(st.text(max_size=50), st.sampled_from(["a" * 30 + "b", "{}", "[1, 2]"])),
       pattern=st.lists(st.sampled_from(PATTERN_PIECES), max_size=10).map("".join))
def test_checks_end_in_results_or_a_check_error(raw, answer, pattern):
    # A catastrophic pattern is stopped at REGEX_TIMEOUT_S; a short one keeps the examples fast.
    with mock.patch.object(analysis.checks, "REGEX_TIMEOUT_S", 0.05):
        try:
            results = run_checks([*raw, {"type": "regex", "pattern": pattern}], answer)
        except UserFacingError as exc:
            assert isinstance(exc, analysis.checks.CheckError)
            return
    assert all(isinstance(r, CheckResult) for r in results)
