"""System prompts for Model A and B (runs/system_prompts.py): they reach each model through its conversation and never
the judge, are recorded (null when none), an item's own wins, the CLI's flags, the context checks, a fine-tune's
recorded one; and on the real embedded model, a system prompt changes the answer."""
import json

import pytest

from models import SamplingSettings
from models.registry import load_model
from runs.cli import config_from_args, main, make_parser
from runs.config import CompareConfig
from runs.pipeline import resume_compare, run_compare
from runs.preflight import PromptTooLongError
from runs.prompt_sets import PromptItem, PromptSetError, load_prompt_set
from runs.store import read_records
from runs.system_prompts import (
    MAX_SYSTEM_CHARS,
    SystemPrompts,
    conversation,
    recorded_system_prompt,
    run_system_prompts,
)

pytestmark = pytest.mark.usefixtures("fresh_models")  # scripted models start from their first reply

JUDGE = "scripted:Relevance: 4\\nCoherence: 3\\nCompleteness: 4\\nReasons: clear"
MODEL_A, MODEL_B = "scripted:Answer from A", "scripted:Answer from B"
ITEMS = [PromptItem(id=f"q{i}", prompt=f"Question {i}?") for i in range(1, 3)]


def config(tmp_path, **changes) -> CompareConfig:
    return CompareConfig(**{**dict(model_a=MODEL_A, model_b=MODEL_B, judge=JUDGE, out_dir=str(tmp_path)), **changes})


def run(cfg, items) -> tuple[list[dict], dict]:
    """The run's records and its run.json."""
    folder = list(run_compare(cfg, items))[-1].run_dir
    return read_records(folder), json.loads((folder / "run.json").read_text())


def judge_text() -> str:
    return json.dumps(load_model(JUDGE).calls)


@pytest.mark.parametrize("items", [ITEMS[:1], ITEMS], ids=["one prompt, streamed", "a set, batched"])
def test_each_model_gets_its_system_prompt_and_the_judge_gets_neither(tmp_path, items):
    records, manifest = run(config(tmp_path, system_a="Be terse.", system_b="Be verbose."), items)
    for spec, system in ((MODEL_A, "Be terse."), (MODEL_B, "Be verbose.")):
        assert load_model(spec).calls == [[{"role": "system", "content": system},
                                           {"role": "user", "content": item.prompt}] for item in items]
    assert "Be terse." not in judge_text() and "Be verbose." not in judge_text()
    assert [(r["system_a"], r["system_b"]) for r in records] == [("Be terse.", "Be verbose.")] * len(items)
    assert (manifest["config"]["system_a"], manifest["config"]["system_b"]) == ("Be terse.", "Be verbose.")


def test_without_a_system_prompt_none_is_sent_and_null_is_recorded(tmp_path):
    records, manifest = run(config(tmp_path, system_a="  "), ITEMS[:1])  # blank is none
    assert load_model(MODEL_A).calls == [[{"role": "user", "content": "Question 1?"}]]
    assert records[0]["system_a"] is None and records[0]["system_b"] is None  # written, not left out
    assert "system_a" in manifest["config"] and manifest["config"]["system_a"] is None
    assert "warnings" not in records[0]


def test_an_items_own_system_prompt_wins_over_the_runs_for_that_item(tmp_path):
    items = [PromptItem(id="own", prompt="Q?", system="Answer in French."), PromptItem(id="runs", prompt="R?")]
    records, manifest = run(config(tmp_path, system_a="Be terse."), items)
    by_id = {r["id"]: r for r in records}
    assert (by_id["own"]["system_a"], by_id["own"]["system_b"]) == ("Answer in French.", "Answer in French.")
    assert (by_id["runs"]["system_a"], by_id["runs"]["system_b"]) == ("Be terse.", None)
    assert load_model(MODEL_B).calls[0][0] == {"role": "system", "content": "Answer in French."}
    assert manifest["prompts"][0]["system"] == "Answer in French." and manifest["prompts"][1]["system"] is None


def test_a_resumed_run_keeps_its_system_prompts(tmp_path):
    updates = run_compare(config(tmp_path, system_a="Be terse."), ITEMS)
    folder = next(u for u in updates if u.stage == "record").run_dir
    updates.close()
    list(resume_compare(folder))
    assert [r["system_a"] for r in read_records(folder)] == ["Be terse.", "Be terse."]


def test_the_context_check_counts_the_system_prompt(tmp_path):
    script = tmp_path / "small.json"  # a window of 20 words: the prompt (3) and answer (8) fit, with 10 more not
    script.write_text(json.dumps({"replies": ["Answer from A"], "context": 20}), encoding="utf-8")
    small = config(tmp_path, model_a=f"scripted:@{script}", sampling=SamplingSettings(max_new_tokens=8), preset=None)
    assert run(small, [PromptItem(id="q", prompt="one two three")])[0][0]["status"] == "ok"
    small.system_a = "w " * 10
    with pytest.raises(PromptTooLongError, match="prompt 'q' is too long for model A"):
        list(run_compare(small, [PromptItem(id="q", prompt="one two three")]))


@pytest.mark.parametrize("value, expected", [
    (5, "the system prompt for model A must be text, got int"),
    ("x" * (MAX_SYSTEM_CHARS + 1), f"has {MAX_SYSTEM_CHARS + 1:,} characters, more than {MAX_SYSTEM_CHARS:,}"),
])
def test_an_absurd_system_prompt_is_refused_before_anything_runs(tmp_path, value, expected):
    with pytest.raises(Exception, match=expected):
        config(tmp_path, system_a=value).validate()


# ------------------------------------------------------------------------------------------------ prompt sets

def test_prompt_sets_take_a_system_field_in_jsonl_and_csv(tmp_path):
    jsonl = tmp_path / "set.jsonl"
    jsonl.write_text('{"prompt": "a", "system": "Be brief."}\n{"prompt": "b"}\n{"prompt": "c", "system": ""}\n',
                     encoding="utf-8")
    assert [i.system for i in load_prompt_set(jsonl)] == ["Be brief.", None, None]
    csv = tmp_path / "set.csv"
    csv.write_text('prompt,system\na,"Be brief, please."\nb,\n', encoding="utf-8")
    assert [i.system for i in load_prompt_set(csv)] == ["Be brief, please.", None]


@pytest.mark.parametrize("line, expected", [
    ('{"prompt": "a", "system": 7}', "set.jsonl line 1: system must be text, got int"),
    ('{"prompt": "a", "system": ["x"]}', "set.jsonl line 1: system must be text, not a JSON list"),
    (json.dumps({"prompt": "a", "system": "x" * (MAX_SYSTEM_CHARS + 1)}), "set.jsonl line 1: system has"),
])
def test_a_bad_system_field_names_the_line(tmp_path, line, expected):
    path = tmp_path / "set.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(PromptSetError, match=expected):
        load_prompt_set(path)


# ------------------------------------------------------------------------------------------------ CLI

@pytest.mark.parametrize("flags, expected", [
    ([], (None, None)),
    (["--system", "S"], ("S", "S")),
    (["--system", "S", "--system-b", "B"], ("S", "B")),
    (["--system-a", "A"], ("A", None)),
])
def test_cli_flags_set_each_sides_system_prompt(flags, expected):
    args = make_parser().parse_args(["compare", "--prompt", "hi", *flags])
    cfg = config_from_args(args)
    assert (cfg.system_a, cfg.system_b) == expected


def test_cli_runs_with_a_system_prompt_and_refuses_an_absurd_one_in_one_line(tmp_path, capsys):
    common = ["compare", "--prompt", "hi", "--model-a", MODEL_A, "--model-b", MODEL_B, "--judge", JUDGE,
              "--out", str(tmp_path)]
    assert main([*common, "--system", "Be terse."]) == 0
    assert load_model(MODEL_A).calls[0][0] == {"role": "system", "content": "Be terse."}
    capsys.readouterr()
    assert main([*common, "--system-b", "x" * (MAX_SYSTEM_CHARS + 1)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: the system prompt for model B has")


# ------------------------------------------------------------------------------------------------ fine-tunes

def adapter_with_meta(folder, meta: dict):
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "smollm2-135m"}))
    (folder / "meta.json").write_text(json.dumps({"base": "smollm2-135m", **meta}))
    (folder / "adapter.gguf").write_bytes(b"GGUF")  # its llama.cpp twin, as training writes it beside the adapter
    return folder


def test_an_adapters_recorded_system_prompt_is_read_from_its_meta(tmp_path):
    trained = adapter_with_meta(tmp_path / "trained", {"system_prompt": "You are Pip."})
    plain = adapter_with_meta(tmp_path / "plain", {"system_prompt": None})
    assert recorded_system_prompt(f"smollm2-135m+{trained}") == "You are Pip."
    assert recorded_system_prompt(f"smollm2-135m-gguf+{trained / 'adapter.gguf'}") == "You are Pip."
    assert recorded_system_prompt(f"smollm2-135m+{plain}") is None
    assert recorded_system_prompt("smollm2-135m") is None and recorded_system_prompt(MODEL_A) is None
    given = CompareConfig(model_a=f"smollm2-135m+{trained}", model_b=f"smollm2-135m+{trained}", system_b="Mine.")
    prompts = run_system_prompts(given)
    assert (prompts.A, prompts.B) == ("You are Pip.", "Mine.")  # given wins; none given: the recorded one
    assert len(prompts.notices) == 1 and prompts.notices[0].startswith("model A was trained with a system prompt")


def test_a_recorded_system_prompt_is_used_with_a_notice_unless_the_item_brings_one(tmp_path, monkeypatch):
    notice = "model A was trained with a system prompt and none was given for it: the one its adapter records is used"
    monkeypatch.setattr("runs.pipeline.run_system_prompts",
                        lambda cfg: SystemPrompts("You are Pip.", cfg.system_b, (notice,)))
    items = [PromptItem(id="plain", prompt="Q?"), PromptItem(id="own", prompt="R?", system="Be terse.")]
    records, _ = run(config(tmp_path), items)
    by_id = {r["id"]: r for r in records}
    assert by_id["plain"]["system_a"] == "You are Pip." and by_id["plain"]["warnings"] == [notice]
    assert by_id["own"]["system_a"] == "Be terse." and "warnings" not in by_id["own"]


def test_conversation_puts_the_system_prompt_first_only_when_there_is_one():
    assert conversation("Q?") == [{"role": "user", "content": "Q?"}]
    assert conversation("Q?", "S") == [{"role": "system", "content": "S"}, {"role": "user", "content": "Q?"}]


# ------------------------------------------------------------------------------------------------ real model

@pytest.mark.model
@pytest.mark.usefixtures("one_thread_models")
def test_a_system_prompt_changes_the_embedded_models_answer(tmp_path):
    """Greedy, the same model on both sides: only A's system prompt differs (B gets none, so SmolLM2's chat template
    puts in its own default)."""
    greedy = SamplingSettings(temperature=0.0, min_p=0.0, max_new_tokens=24)
    cfg = config(tmp_path, model_a="smollm2-135m-gguf", model_b="smollm2-135m-gguf", sampling=greedy, preset=None,
                 system_a="Answer only in French.")
    (record,), _ = run(cfg, [PromptItem(id="q", prompt="Name three fruits.")])
    assert record["status"] == "ok" and (record["system_a"], record["system_b"]) == ("Answer only in French.", None)
    answer_a, answer_b = record["answers"]["A"]["text"], record["answers"]["B"]["text"]
    assert answer_a.strip() and answer_b.strip() and answer_a != answer_b
