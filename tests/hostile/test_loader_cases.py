"""Hostile and careless files and names given to the loaders (issue 11, item 2), one named case each: templates,
prompt sets, model specs and the regex checks a prompt set carries.

Every failing case raises the loader's own user-facing error, before any model runs, with a message that names the
problem and the fix; a few go through the CLI too, which must exit 2 with one line and no traceback. Below the
error table: what must still work (a byte-order mark keeps the id column; a catastrophic regex is stopped).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from analysis.checks import run_checks
from basics import UserFacingError
from judge.templates import TemplateError, load_template, parse_template
from models.errors import ModelSpecError
from models.spec import parse_model_spec
from runs.prompt_sets import PromptSetError, load_prompt_set

from helpers import judge_cli

JUDGE = "scripted:Relevance: 4\\nCoherence: 3\\nCompleteness: 4"
SCRIPTED = ["--model-a", "scripted:hello there", "--model-b", "scripted:world", "--judge", JUDGE]
OUTPUT_FORMAT = "Relevance: <1-4>\nCoherence: <1-4>\nCompleteness: <1-4>\n"
BOM = b"\xef\xbb\xbf"


def template_yaml(**fields) -> str:
    """A valid single-mode template as YAML, with `fields` replacing its entries."""
    data = {"name": "t", "mode": "single", "template": "Q: {prompt}\nA: {answer}\n{output_format}",
            "output_format": OUTPUT_FORMAT, **fields}
    return yaml.safe_dump(data, sort_keys=False)


def write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def template(text: str):
    return lambda tmp: parse_template(text, source="mine.yaml")


def template_file(data: bytes):
    return lambda tmp: load_template(write(tmp / "mine.yaml", data))


def prompt_set(name: str, data: bytes | str):
    return lambda tmp: load_prompt_set(write(tmp / name, data))


def spec(text: str):
    return lambda tmp: parse_model_spec(text)


# (case, in the words) -> (what loads it, the error type, what names the problem, what names the fix)
CASES = [
    pytest.param(template(template_yaml(template="{prompt:>99999999999} {answer}")), TemplateError,
                 "placeholder '{prompt:>99999999999}' is not allowed", "write {prompt}",
                 id="a template placeholder with a format width ({prompt:>99999999999})"),
    pytest.param(template(template_yaml(template="{prompt} {answer!r}")), TemplateError,
                 "placeholder '{answer!r}' is not allowed", "write {answer}",
                 id="a template placeholder with a conversion ({answer!r})"),
    pytest.param(template(template_yaml(template="{prompt[0]} {answer}")), TemplateError,
                 "placeholder '{prompt[0]}' is not allowed", "only bare names such as {prompt}",
                 id="a template placeholder with an index ({prompt[0]})"),
    pytest.param(template(template_yaml(template="{prompt.x} {answer}")), TemplateError,
                 "placeholder '{prompt.x}' is not allowed", "double the braces",
                 id="a template placeholder with an attribute ({prompt.x})"),
    pytest.param(template(template_yaml(template=["{prompt}", "{answer}"])), TemplateError,
                 "template must be text, got a list", "write it as a YAML string",
                 id="a template whose template is not text (a list)"),
    pytest.param(template(template_yaml(template={"q": "{prompt}"})), TemplateError,
                 "template must be text, got a mapping", "'template: |' followed by indented lines",
                 id="a template whose template is not text (a mapping)"),
    pytest.param(template(template_yaml(template=42)), TemplateError, "template must be text, got a number 42",
                 "write it as a YAML string", id="a template whose template is not text (a number)"),
    pytest.param(template(template_yaml(output_format=["Relevance: <1-4>"])), TemplateError,
                 "output_format must be text, got a list", "write it as a YAML string",
                 id="a template whose output_format is a list"),
    pytest.param(template(template_yaml(output_format={"relevance": "<1-4>"})), TemplateError,
                 "output_format must be text, got a mapping", "write it as a YAML string",
                 id="a template whose output_format is a mapping"),
    pytest.param(template(template_yaml(system=["be fair"])), TemplateError, "system must be text, got a list",
                 "write it as a YAML string", id="a template whose system text is a list"),
    pytest.param(template(template_yaml(output_format=OUTPUT_FORMAT + "Total: <1-99999999999>")), TemplateError,
                 "range <1-99999999999> cannot be a score slot", "at most 1000 values, e.g. <1-10>",
                 id="a template whose output_format range allocates without bound"),
    pytest.param(template_file(template_yaml(description="caf").encode() + b"\xe9 au lait\n"), TemplateError,
                 "mine.yaml: not UTF-8 text (byte", "save the file as UTF-8", id="non-UTF-8 bytes in a template"),
    pytest.param(prompt_set("set.jsonl", b'{"prompt": "fine"}\n{"prompt": "caf\xe9"}\n'), PromptSetError,
                 "set.jsonl: not UTF-8 text (byte 34, line 2: b'\\xe9')", "save the file as UTF-8",
                 id="non-UTF-8 bytes in a prompt set (JSONL)"),
    pytest.param(prompt_set("set.csv", b"id,prompt\na,caf\xe9\n"), PromptSetError,
                 "set.csv: not UTF-8 text (byte 15, line 2", "save the file as UTF-8",
                 id="non-UTF-8 bytes in a prompt set (CSV)"),
    pytest.param(prompt_set("set.csv", BOM + b"id,prompt\na,caf\xe9\n"), PromptSetError,
                 "not UTF-8 text (byte 18, line 2", "save the file as UTF-8",
                 id="non-UTF-8 bytes after a byte-order mark count the mark's bytes"),
    pytest.param(prompt_set("set.csv", "id,prompt\na," + "x" * 131_073 + "\n"), PromptSetError,
                 "set.csv line 2: a field is longer than 131,072 characters", "write the set as JSONL",
                 id="a CSV field over 131,072 characters"),
    pytest.param(prompt_set("set.jsonl", "[" * 100_000 + "\n"), PromptSetError,
                 "set.jsonl line 1: not valid JSON (nested too deeply to read)", "write it as flat JSON",
                 id="a deeply nested JSON line"),
    pytest.param(prompt_set("set.csv", 'prompt,checks\nhi,"' + "[" * 100_000 + '"\n'), PromptSetError,
                 "the checks column is not a JSON list (nested too deeply to read)", "write it as flat JSON",
                 id="a deeply nested JSON checks cell in a CSV"),
    pytest.param(prompt_set("set.jsonl", '{"prompt": ' + "9" * 5000 + "}\n"), PromptSetError,
                 "set.jsonl line 1: not valid JSON (Exceeds the limit", "write long numbers as text in quotes",
                 id="a number of 5,000 digits in a JSON line"),
    pytest.param(prompt_set("set.jsonl", '{"prompt": ["a", "list"]}\n'), PromptSetError,
                 "set.jsonl line 1: prompt must be text, not a JSON list", "write it in quotes",
                 id="a prompt that is a JSON list"),
    pytest.param(prompt_set("set.jsonl", '{"prompt": "hi", "checks": [{"type": "regex", "pattern": "a{99999999999}"}]}'),
                 UserFacingError, "regex pattern 'a{99999999999}' is too large to compile",
                 "use smaller repeat counts", id="a regex check too large to compile"),
    pytest.param(spec("a" * 300), ModelSpecError, "is too long to name a model", "check what was pasted",
                 id="a model spec longer than the file-name limit"),
    pytest.param(spec("smollm2-135m+adapters/" + "b" * 256), ModelSpecError,
                 "a file or folder name takes at most 255 bytes", "check what was pasted",
                 id="a model spec with a path component over 255 bytes"),
    pytest.param(spec("~nosuchuser/model"), ModelSpecError, "there is no user 'nosuchuser' on this machine",
                 "write the model's or adapter's full path", id="a model spec starting with ~user (no such user)"),
    pytest.param(spec("~root/x"), ModelSpecError, "unknown model '~root/x'", "use an embedded alias",
                 id="a model spec starting with ~user (an existing user)"),
    pytest.param(spec("models/a\x00b"), ModelSpecError, "contains a control character (a NUL",
                 "type it again on one line", id="a model spec with a NUL byte"),
    pytest.param(spec("smollm2-135m\n+x"), ModelSpecError, "contains a control character",
                 "type it again on one line", id="a model spec with a line break"),
    pytest.param(spec("/" + "a/" * 3000), ModelSpecError, "and a path 4096", "check what was pasted",
                 id="a model spec longer than the path limit"),
    pytest.param(spec("smollm2-135m+~nosuchuser/lora"), ModelSpecError, "no user 'nosuchuser'",
                 "write the model's or adapter's full path", id="an adapter starting with ~user (no such user)"),
    pytest.param(spec("openai:m@http://["), ModelSpecError, "base URL 'http://[' cannot be read (Invalid IPv6 URL)",
                 "write it like http://127.0.0.1:8000/v1", id="an endpoint URL urlsplit refuses"),
]


@pytest.mark.parametrize("load, error, problem, fix", CASES)
def test_a_hostile_file_or_name_ends_in_a_clear_error(tmp_path, load, error, problem, fix):
    with pytest.raises(error) as info:
        load(tmp_path)
    message = str(info.value)
    assert isinstance(info.value, UserFacingError)
    assert problem in message and fix in message, message
    assert "\n" not in message and len(message) < 600, "one readable line"


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b"\xff\xfe", b""],
                         ids=["a corrupt adapter_config.json", "an adapter_config.json holding a list",
                              "a non-UTF-8 adapter_config.json", "an empty adapter_config.json"])
def test_a_damaged_adapter_config_is_a_spec_error_and_is_left_out_of_the_pickers(tmp_path, monkeypatch, content):
    from models.spec import known_model_specs

    monkeypatch.setenv("LLM_JUDGE_ADAPTERS", str(tmp_path))
    (tmp_path / "broken").mkdir()
    write(tmp_path / "broken" / "adapter_config.json", content)
    with pytest.raises(ModelSpecError, match="adapter_config.json .*the adapter is damaged; save or export it again"):
        parse_model_spec("smollm2-135m+broken")
    assert not any("broken" in offered for offered in known_model_specs())


def test_an_adapter_recorded_as_made_for_itself_does_not_recurse(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_JUDGE_ADAPTERS", str(tmp_path))
    (tmp_path / "self").mkdir()
    write(tmp_path / "self" / "adapter_config.json", '{"peft_type": "LORA"}')
    write(tmp_path / "self" / "meta.json", '{"base": "smollm2-135m+self"}')
    with pytest.raises(ModelSpecError, match=r"made for base 'smollm2-135m\+self'"):
        parse_model_spec("smollm2-135m+self")


# ------------------------------------------------------------------------------------------- what must still work

@pytest.mark.parametrize("name, data", [
    pytest.param("excel.csv", BOM + b"id,prompt\r\nq1,Say hi.\r\nq2,Say bye.\r\n",
                 id="a CSV saved by Excel with a byte-order mark keeps its id column"),
    pytest.param("notepad.jsonl", BOM + b'{"id": "q1", "prompt": "Say hi."}\n{"id": "q2", "prompt": "Say bye."}\n',
                 id="a JSONL prompt set with a byte-order mark loads"),
])
def test_a_byte_order_mark_is_dropped(tmp_path, name, data):
    items = load_prompt_set(write(tmp_path / name, data))
    assert [(item.id, item.prompt) for item in items] == [("q1", "Say hi."), ("q2", "Say bye.")]


def test_a_template_with_a_byte_order_mark_loads(tmp_path):
    assert load_template(write(tmp_path / "bom.yaml", BOM + template_yaml().encode())).name == "t"


def test_literal_braces_stay_allowed():
    loaded = parse_template(template_yaml(template='{prompt} {answer} reply as {{"score": N}}'))
    assert 'reply as {"score": N}' in loaded.render(prompt="p", answer="a")[-1]["content"]


@pytest.mark.parametrize("pattern, answer, detail", [
    # the regex package sees through this one and answers at once; re would backtrack for hours
    pytest.param("^(a+)+$", "a" * 5000 + "b", "no match", id="a regex check like ^(a+)+$ in a prompt set"),
    pytest.param("(x+x+)+y", "x" * 5000, "stopped after 1 s: the pattern backtracks too much on this answer",
                 id="a regex check that backtracks catastrophically is stopped and recorded as failed"),
])
def test_a_regex_check_runs_with_a_time_limit_on_every_answer(tmp_path, pattern, answer, detail):
    line = json.dumps({"prompt": "hi", "checks": [{"type": "regex", "pattern": pattern}]})
    (item,) = load_prompt_set(write(tmp_path / "set.jsonl", line + "\n"))
    started = time.perf_counter()
    (result,) = run_checks(item.checks, answer)
    assert time.perf_counter() - started < 5
    assert not result.passed and result.detail.startswith(detail), result.detail


# ------------------------------------------------------------------------------------------- through the CLI

CLI_CASES = [
    pytest.param(lambda t: ["--prompts", str(write(t / "set.jsonl", b'{"prompt": "caf\xe9"}\n')), *SCRIPTED],
                 "set.jsonl: not UTF-8 text (byte 15, line 1", "save the file as UTF-8",
                 id="CLI: non-UTF-8 bytes in a prompt set"),
    pytest.param(lambda t: ["--prompts", str(write(t / "set.csv", "prompt\n" + "x" * 131_073 + "\n")), *SCRIPTED],
                 "a field is longer than 131,072 characters", "write the set as JSONL",
                 id="CLI: a CSV field over 131,072 characters"),
    pytest.param(lambda t: ["--prompt", "hi", "--template",
                            str(write(t / "wide.yaml", template_yaml(template="{prompt:>99999999999} {answer}"))),
                            *SCRIPTED], "placeholder '{prompt:>99999999999}' is not allowed", "write {prompt}",
                 id="CLI: a template placeholder with a format width"),
    pytest.param(lambda t: ["--prompt", "hi", *SCRIPTED[2:], "--model-a", "~nosuchuser/model"],
                 "there is no user 'nosuchuser'", "full path", id="CLI: a model spec starting with ~user"),
]


@pytest.mark.parametrize("make_args, problem, fix", CLI_CASES)
def test_the_cli_refuses_a_hostile_file_with_one_line(tmp_path, make_args, problem, fix):
    result = judge_cli(*make_args(tmp_path), out=tmp_path / "out", timeout=120)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and problem in lines[0] and fix in lines[0], lines[0]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
