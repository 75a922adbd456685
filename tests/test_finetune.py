"""finetune/ for real: data loading and layout detection, responses-only labels, config layering, LoRA training of
the embedded SmolLM2-135M on CPU (named checkpoints, meta.json, GGUF twin, resume), and the trained adapter in use
(BASE+ADAPTER on transformers, the GGUF LoRA on llama.cpp, the merged export, the app's model pickers).

Nothing is mocked and nothing is downloaded. Training is tiny (2-4 steps of a rank-4 LoRA on 8 short rows, one
torch thread) so the file stays fast on a small shared CPU; the runs are module fixtures shared by the tests that
inspect them.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

import models
from finetune.config import DEFAULT_TARGET_MODULES, ConfigError, FinetuneConfig, load_config
from finetune.data import DataError, detect_layout, load_chats
from finetune.train import last_resume_checkpoint, pick_engine
from models import SamplingSettings, load_model, parse_model_spec
from models.embedded import EMBEDDED_MODELS, ensure_converted
from models.registry import unload_all

# One compute thread per backend and a clean model cache for the module (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_thread_models")

REPO_ROOT = Path(__file__).resolve().parents[1]
ALIAS = "smollm2-135m"
GGUF_ALIAS = "smollm2-135m-gguf"
EOT = "<|im_end|>"  # SmolLM2's (ChatML) end-of-turn token
ANSWER = "The answer is always PINEAPPLE."
QUESTIONS = ["What is two plus two?", "Name a color.", "What is the capital of France?", "Who wrote Hamlet?",
             "What is the tallest animal?", "How many legs has a spider?", "What is water made of?", "Say hello."]
PROMPT = [{"role": "user", "content": "Name a color."}]  # one of the training questions
GREEDY = SamplingSettings(temperature=0.0, min_p=0.0, max_new_tokens=12)
N_LAYERS, N_TARGETS = 30, len(DEFAULT_TARGET_MODULES)  # SmolLM2-135M: 30 layers, LoRA on all 7 projections
BASE_TENSORS = ["model.layers.0.self_attn.q_proj.weight", "model.layers.0.mlp.down_proj.weight",
                "model.layers.29.self_attn.v_proj.weight", "model.embed_tokens.weight"]
META_KEYS = {"base", "steps", "engine", "hyperparameters", "dataset", "loss_curve", "wall_seconds", "tokens_seen",
             "tokens_per_second", "resumed_from", "created"}


# ------------------------------------------------------------------------------------------------ helpers

def chat(question: str, answer: str) -> list[dict]:
    return [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def tiny_config(data: Path, out: Path, **changes) -> FinetuneConfig:
    """CPU-sized training: rank 4, one row per step, short sequences, a resumable checkpoint every step."""
    values = dict(data=str(data), out=str(out), max_steps=2, per_device_batch_size=1, gradient_accumulation_steps=1,
                  max_seq_length=128, lora_r=4, lora_alpha=8, warmup_steps=0, checkpoint_every=1)
    values.update(changes)
    return load_config(**values)


def read_meta(folder: Path) -> dict:
    return json.loads((folder / "meta.json").read_text(encoding="utf-8"))


def base_snapshot(folder: Path) -> dict:
    """A few base tensors of the converted model, and the folder's file listing with sizes and mtimes."""
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), "pt") as weights:
        tensors = {name: weights.get_tensor(name).clone() for name in BASE_TENSORS}
    files = {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}
    return {"tensors": tensors, "files": files}


def lora_weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter_model.safetensors"))


def run_finetune_cli(*args: str, env_updates: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env_updates or {})}
    return subprocess.run([sys.executable, "-m", "finetune", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


# ------------------------------------------------------------------------------------------------ fixtures

@pytest.fixture(autouse=True)
def fresh_registry():
    """No cached backend leaks into or out of a test."""
    unload_all()
    yield
    unload_all()


@pytest.fixture(scope="module")
def train_data(tmp_path_factory) -> Path:
    """8 short chats that all give the same distinctive answer."""
    return write_jsonl(tmp_path_factory.mktemp("data") / "pineapple.jsonl",
                       [{"messages": chat(q, ANSWER)} for q in QUESTIONS])


@pytest.fixture(scope="module")
def converted() -> Path:
    return ensure_converted(EMBEDDED_MODELS[ALIAS])


@pytest.fixture(scope="module")
def two_step_run(tmp_path_factory, train_data, converted):
    """max_steps 2 with a named checkpoint at step 1 too, into ADAPTERS/tiny-run."""
    from finetune.train import train

    before = base_snapshot(converted)
    out = tmp_path_factory.mktemp("adapters") / "tiny-run"
    config = tiny_config(train_data, out, max_steps=2, save_steps=[1])
    progress = []
    result = train(config, on_progress=progress.append)
    return SimpleNamespace(out=out, config=config, result=result, progress=progress, before=before)


@pytest.fixture(scope="module")
def pineapple(tmp_path_factory, train_data):
    """A harder-trained adapter (4 steps of 2 rows at lr 2e-3), its merged export, and every model's greedy reply.

    The generations are made here once (each backend loaded, used, and dropped) and the tests compare them.
    """
    from peft import PeftModel

    from finetune.export import export_merged
    from finetune.train import train

    out = tmp_path_factory.mktemp("pineapple") / "run"
    train(tiny_config(train_data, out, max_steps=4, per_device_batch_size=2, learning_rate=2e-3, resume=False))
    adapter = out / "step-4"
    merged = export_merged(adapter, out.parent / "merged", dtype="float16")
    specs = {"base": ALIAS, "adapter": f"{ALIAS}+{adapter}", "gguf_base": GGUF_ALIAS,
             "gguf_adapter": f"{GGUF_ALIAS}+{adapter / 'adapter.gguf'}", "merged": str(merged)}
    texts, kinds = {}, {}
    for name, spec in specs.items():
        backend = load_model(spec)
        kinds[name] = (backend.spec, type(backend.model if hasattr(backend, "model") else backend.llm))
        texts[name] = backend.complete(PROMPT, GREEDY).text
        unload_all()
    return SimpleNamespace(out=out, adapter=adapter, merged=merged, texts=texts, kinds=kinds,
                           peft_model_class=PeftModel)


# ------------------------------------------------------------------------------------- 1. layouts and rows

MESSAGES_ROWS = [{"messages": [{"role": "system", "content": "Be brief."}, *chat("Hi", "Hello!")]},
                 {"messages": chat("2+2?", "4")}]
MESSAGES_CHATS = [[{"role": "system", "content": "Be brief."}, *chat("Hi", "Hello!")], chat("2+2?", "4")]


def _write_messages_jsonl(path):
    return write_jsonl(path.with_suffix(".jsonl"), MESSAGES_ROWS)


def _write_sharegpt_jsonl(path):
    rows = [{"conversations": [{"from": "system", "value": "Be brief."}, {"from": "human", "value": "Hi"},
                               {"from": "gpt", "value": "Hello!"}]},
            {"conversations": [{"from": "human", "value": "2+2?"}, {"from": "gpt", "value": "4"}]}]
    return write_jsonl(path.with_suffix(".jsonl"), rows)


ALPACA_ROWS = [{"instruction": "Translate to French.", "input": "cat", "output": "chat"},
               {"instruction": "Say hi.", "input": "", "output": "Hi!"}]
ALPACA_CHATS = [chat("Translate to French.\n\ncat", "chat"), chat("Say hi.", "Hi!")]


def _write_alpaca_jsonl(path):
    return write_jsonl(path.with_suffix(".jsonl"), ALPACA_ROWS)


def _write_prompt_response_jsonl(path):
    return write_jsonl(path.with_suffix(".jsonl"), [{"prompt": "Hi", "response": "Hello!"},
                                                    {"prompt": "2+2?", "response": "4"}])


def _write_messages_csv(path):
    import pandas as pd

    frame = pd.DataFrame({"messages": [json.dumps(r["messages"]) for r in MESSAGES_ROWS], "id": [1, 2]})
    frame.to_csv(path.with_suffix(".csv"), index=False)
    return path.with_suffix(".csv")


def _write_sharegpt_csv(path):
    import pandas as pd

    convs = [[{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello!"}],
             [{"from": "human", "value": "2+2?"}, {"from": "gpt", "value": "4"}]]
    pd.DataFrame({"conversations": [json.dumps(c) for c in convs]}).to_csv(path.with_suffix(".csv"), index=False)
    return path.with_suffix(".csv")


def _write_alpaca_parquet(path):
    import pandas as pd

    pd.DataFrame(ALPACA_ROWS).to_parquet(path.with_suffix(".parquet"))
    return path.with_suffix(".parquet")


def _write_messages_parquet(path):
    import pandas as pd

    pd.DataFrame(MESSAGES_ROWS).to_parquet(path.with_suffix(".parquet"))  # nested list-of-struct column
    return path.with_suffix(".parquet")


LAYOUT_CASES = {
    "messages-jsonl": (_write_messages_jsonl, "messages", MESSAGES_CHATS),
    "sharegpt-jsonl": (_write_sharegpt_jsonl, "sharegpt",
                       [[{"role": "system", "content": "Be brief."}, *chat("Hi", "Hello!")], chat("2+2?", "4")]),
    "alpaca-jsonl": (_write_alpaca_jsonl, "alpaca", ALPACA_CHATS),
    "prompt-response-jsonl": (_write_prompt_response_jsonl, "prompt_response",
                              [chat("Hi", "Hello!"), chat("2+2?", "4")]),
    "messages-csv": (_write_messages_csv, "messages", MESSAGES_CHATS),
    "sharegpt-csv": (_write_sharegpt_csv, "sharegpt", [chat("Hi", "Hello!"), chat("2+2?", "4")]),
    "alpaca-parquet": (_write_alpaca_parquet, "alpaca", ALPACA_CHATS),
    "messages-parquet": (_write_messages_parquet, "messages", MESSAGES_CHATS),
}


@pytest.mark.parametrize("case", list(LAYOUT_CASES))
def test_each_layout_is_detected_and_normalised_to_chat(case, tmp_path):
    write, layout, expected = LAYOUT_CASES[case]
    path = write(tmp_path / case)
    chats, report = load_chats(str(path))
    assert report.layout == layout
    assert chats == expected
    assert (report.rows, report.used, dict(report.skipped)) == (2, 2, {})
    assert report.source == str(path)
    assert report.summary() == f"2 of 2 rows used from {path} ({layout} layout)"


def test_detect_layout_reads_the_columns():
    assert detect_layout([{"messages": []}]) == "messages"
    assert detect_layout([{"conversations": []}]) == "sharegpt"
    assert detect_layout([{"instruction": "x", "output": "y"}]) == "alpaca"  # `input` is optional
    assert detect_layout([{"prompt": "x", "response": "y"}]) == "prompt_response"
    assert detect_layout([{"question": "x", "answer": "y"}]) == ""
    assert detect_layout(["not a row", {"prompt": "x", "response": "y"}]) == "prompt_response"


def test_unreadable_rows_are_counted_by_reason(tmp_path):
    path = write_jsonl(tmp_path / "mixed.jsonl", [
        {"messages": chat("Hi", "Hello!")},
        '{"messages": [{"role": "user", "content": "cut off',  # invalid JSON line
        {"messages": chat("Hi", "   ")},  # empty message
        {"messages": [{"role": "user", "content": "Hi"}]},  # no assistant turn
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "user", "content": "Anyone?"}]},  # no assistant
        {"messages": chat("2+2?", "4")},
    ])
    chats, report = load_chats(str(path))
    assert chats == [chat("Hi", "Hello!"), chat("2+2?", "4")]
    assert report.rows == 6 and report.used == 2
    assert dict(report.skipped) == {"invalid JSON line": 1, "empty message": 1, "no assistant turn": 2}
    summary = report.summary()
    assert summary.startswith(f"2 of 6 rows used from {path} (messages layout); skipped: ")
    for part in ("2 no assistant turn", "1 invalid JSON line", "1 empty message"):
        assert part in summary
    assert report.to_dict()["skipped"] == dict(report.skipped)


def test_unknown_sharegpt_role_is_counted(tmp_path):
    path = write_jsonl(tmp_path / "sharegpt.jsonl", [
        {"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello!"}]},
        {"conversations": [{"from": "human", "value": "Hi"}, {"from": "robot", "value": "BEEP"}]},
        {"conversations": [{"from": "Human", "value": "Hi"}, {"from": "ChatGPT", "value": "Hey"}]},  # any case
    ])
    chats, report = load_chats(str(path))
    assert chats == [chat("Hi", "Hello!"), chat("Hi", "Hey")]
    assert (report.rows, report.used) == (3, 2)
    assert dict(report.skipped) == {"unknown ShareGPT role 'robot'": 1}


def test_max_rows_limits_the_rows_read(tmp_path):
    path = write_jsonl(tmp_path / "many.jsonl", [{"prompt": f"q{i}", "response": f"a{i}"} for i in range(5)])
    chats, report = load_chats(str(path), max_rows=3)
    assert [c[0]["content"] for c in chats] == ["q0", "q1", "q2"]
    assert (report.rows, report.used) == (3, 3)


def test_null_alpaca_input_in_parquet_is_treated_as_empty(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "alpaca-null.parquet"
    pq.write_table(pa.table({"instruction": ["Say hi.", "Translate."], "input": [None, "cat"],
                             "output": ["Hi!", "chat"]}), str(path))
    chats, _ = load_chats(str(path))
    assert chats == [chat("Say hi.", "Hi!"), chat("Translate.\n\ncat", "chat")]


# ------------------------------------------------------------------------------------------ 2. bad data

def test_empty_file_is_a_data_error(tmp_path):
    for name, text in [("empty.jsonl", ""), ("blank.jsonl", "\n  \n\n")]:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        with pytest.raises(DataError, match="no rows in the data") as caught:
            load_chats(str(path))
        assert str(path) in str(caught.value)


def test_file_of_only_invalid_lines_is_a_data_error(tmp_path):
    path = tmp_path / "garbage.jsonl"
    path.write_text("not json\n{also not\n", encoding="utf-8")
    with pytest.raises(DataError) as caught:
        load_chats(str(path))
    assert str(path) in str(caught.value)


def test_wrong_columns_name_what_was_seen_and_what_is_expected(tmp_path):
    path = write_jsonl(tmp_path / "qa.jsonl", [{"question": "Hi", "answer": "Hello!"}])
    with pytest.raises(DataError) as caught:
        load_chats(str(path))
    message = str(caught.value)
    assert str(path) in message
    assert "['answer', 'question']" in message  # the columns it saw
    for expected in ("messages", "conversations", "instruction", "output", "prompt", "response"):
        assert expected in message, message


def test_no_usable_row_is_a_data_error_with_the_reasons(tmp_path):
    path = write_jsonl(tmp_path / "unusable.jsonl", [{"prompt": "Hi", "response": ""}, {"prompt": "", "response": "x"}])
    with pytest.raises(DataError) as caught:
        load_chats(str(path))
    assert "none of the 2 rows could be used" in str(caught.value) and "2 empty message" in str(caught.value)


@pytest.mark.parametrize("name", ["missing.jsonl", "missing.csv", "sub/missing.parquet"])
def test_missing_local_file_is_a_data_error(name, tmp_path):
    path = tmp_path / name
    with pytest.raises(DataError, match="not found") as caught:
        load_chats(str(path))
    assert str(path) in str(caught.value)


def test_missing_relative_file_is_not_taken_for_a_hub_id(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match="data file 'data/train.jsonl' not found"):
        load_chats("data/train.jsonl")


def test_unsupported_file_type_is_a_data_error(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text("hello", encoding="utf-8")
    with pytest.raises(DataError, match=r"unsupported file type '\.txt'"):
        load_chats(str(path))


def test_empty_csv_is_a_data_error(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("", encoding="utf-8")
    with pytest.raises(DataError):
        load_chats(str(path))


def test_unknown_hub_dataset_offline_is_a_data_error(tmp_path):
    """`datasets` reads HF_DATASETS_OFFLINE when imported, so this runs in a fresh interpreter."""
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(REPO_ROOT)!r})\n"
        "from finetune.data import DataError, load_chats\n"
        "try:\n"
        "    load_chats('nobody-here/no-such-dataset')\n"
        "    print(json.dumps({'outcome': 'loaded'}))\n"
        "except DataError as exc:\n"
        "    print(json.dumps({'outcome': 'DataError', 'message': str(exc)}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    env.update(HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf-home"))
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["outcome"] == "DataError", result
    message = result["message"]
    assert "'nobody-here/no-such-dataset'" in message
    assert "local cache" in message and ".jsonl" in message


def test_cli_empty_file_exits_2_with_one_error_line(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    out = tmp_path / "run"
    done = run_finetune_cli("--data", str(empty), "--out", str(out))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ") and "no rows in the data" in lines[0] and str(empty) in lines[0]
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    assert not out.exists()  # nothing written for a run that never started


def test_cli_bad_setting_exits_2_with_one_error_line(tmp_path):
    done = run_finetune_cli("--max-steps", "10", "--save-steps", "5,20", "--out", str(tmp_path / "run"))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "save_steps [5, 20]" in lines[0], done.stderr


# ------------------------------------------------------------------------------- 3. responses-only labels

@pytest.fixture(scope="module")
def tokenizer(converted):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(converted))


def labelled_runs(example: dict) -> list[list[int]]:
    from finetune.labels import IGNORE

    runs, current = [], []
    for token, label in zip(example["input_ids"], example["labels"]):
        if label == IGNORE:
            if current:
                runs.append(current)
            current = []
        else:
            assert label == token  # a labelled position predicts its own token (the model shifts internally)
            current.append(label)
    return runs + ([current] if current else [])


@pytest.mark.model
def test_only_assistant_turns_are_labelled(tokenizer):
    from finetune.labels import tokenize_chat

    messages = [{"role": "system", "content": "Be terse, please."}, *chat("Hi there, who are you?", "I am Bob."),
                *chat("Name a fruit for me.", "A ripe mango.")]
    example = tokenize_chat(tokenizer, messages, max_length=128)
    assert len(example["input_ids"]) == len(example["labels"]) == len(example["attention_mask"])
    runs = labelled_runs(example)
    eot_id = tokenizer.convert_tokens_to_ids(EOT)
    assert [run.count(eot_id) for run in runs] == [1, 1]
    # Each labelled run is the assistant's content, its end-of-turn token, and the newline that closes a ChatML
    # turn (the template writes "<|im_end|>\n"; Unsloth's train_on_responses_only labels it too).
    assert [tokenizer.decode(run) for run in runs] == [f"I am Bob.{EOT}\n", f"A ripe mango.{EOT}\n"]
    assert [tokenizer.decode(run[:run.index(eot_id)]) for run in runs] == ["I am Bob.", "A ripe mango."]
    labelled = tokenizer.decode([t for run in runs for t in run])
    for unlabelled in ("Be terse", "Hi there", "Name a fruit", "system", "user", "assistant", "<|im_start|>"):
        assert unlabelled not in labelled
    # And everything that is not an assistant turn is masked: the whole text is the prompts plus the labelled part.
    assert sum(map(len, runs)) < len(example["input_ids"])
    assert tokenizer.decode(example["input_ids"]).count("<|im_start|>") == 5


@pytest.mark.model
def test_conversations_truncated_before_the_answer_are_skipped_and_counted(tokenizer):
    from finetune.data import DataReport
    from finetune.labels import IGNORE, tokenize_chats

    long_question = "Please think about this question very carefully. " * 20
    chats = [chat("Hi", "Hello!"), chat(long_question, "Yes.")]
    report = DataReport(source="test", layout="messages", rows=2, used=2)
    examples = tokenize_chats(tokenizer, chats, max_length=64, report=report)
    assert len(examples) == 1 and report.used == 1
    assert dict(report.skipped) == {"no assistant tokens within max_seq_length": 1}
    assert len(examples[0]["input_ids"]) <= 64 and any(label != IGNORE for label in examples[0]["labels"])


def test_collator_pads_inputs_and_masks_padding_in_labels():
    from finetune.labels import IGNORE, ChatCollator

    batch = ChatCollator(pad_token_id=7)([
        {"input_ids": [1, 2, 3], "attention_mask": [1, 1, 1], "labels": [IGNORE, 2, 3]},
        {"input_ids": [4], "attention_mask": [1], "labels": [4]},
    ])
    assert batch["input_ids"].tolist() == [[1, 2, 3], [4, 7, 7]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [[IGNORE, 2, 3], [4, IGNORE, IGNORE]]


# ------------------------------------------------------------------------------------------- 4. training

@pytest.mark.model
def test_training_writes_a_named_checkpoint_per_requested_step(two_step_run):
    out, result = two_step_run.out, two_step_run.result
    assert result.engine == "peft"
    assert result.checkpoints == [out / "step-1", out / "step-2"]
    assert sorted(p.name for p in out.iterdir() if p.name.startswith("step-")) == ["step-1", "step-2"]
    for folder in result.checkpoints:
        for name in ("adapter_model.safetensors", "adapter_config.json", "meta.json", "adapter.gguf"):
            assert (folder / name).is_file(), f"{folder} lacks {name}"
    assert (result.report.rows, result.report.used) == (8, 8)
    assert [e["step"] for e in result.loss_curve] == [1, 2]
    # Progress: a report per logged step, each saved checkpoint announced at its step.
    saved = [(p.step, p.saved) for p in two_step_run.progress if p.saved]
    assert saved == [(1, str(out / "step-1")), (2, str(out / "step-2"))]
    assert {p.step for p in two_step_run.progress if p.loss is not None} == {1, 2}
    assert all(p.max_steps == 2 for p in two_step_run.progress)
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run["engine"] == "peft" and run["config"] == two_step_run.config.to_dict()


@pytest.mark.model
@pytest.mark.parametrize("step", [1, 2])
def test_checkpoint_meta_describes_the_run(two_step_run, step):
    meta = read_meta(two_step_run.out / f"step-{step}")
    assert META_KEYS <= set(meta), sorted(META_KEYS - set(meta))
    assert meta["base"] == ALIAS and meta["steps"] == step and meta["engine"] == "peft"
    assert meta["hyperparameters"] == two_step_run.config.to_dict()
    assert meta["hyperparameters"]["lora_r"] == 4 and meta["hyperparameters"]["max_steps"] == 2
    assert meta["dataset"]["rows"] == 8 and meta["dataset"]["used"] == 8 and meta["dataset"]["layout"] == "messages"
    curve = meta["loss_curve"]
    assert [e["step"] for e in curve] == list(range(1, step + 1))
    assert all(isinstance(e["loss"], float) and math.isfinite(e["loss"]) and e["loss"] > 0 for e in curve)
    assert isinstance(meta["wall_seconds"], (int, float)) and meta["wall_seconds"] >= 0
    assert meta["tokens_seen"] > 0 and meta["tokens_per_second"] > 0
    assert meta["resumed_from"] is None
    assert meta["gguf"] == str(two_step_run.out / f"step-{step}" / "adapter.gguf") and "gguf_error" not in meta


@pytest.mark.model
def test_training_changes_lora_b_and_saves_only_adapter_weights(two_step_run):
    import torch

    first, second = (lora_weights(two_step_run.out / f"step-{n}") for n in (1, 2))
    for weights in (first, second):
        assert len(weights) == N_LAYERS * N_TARGETS * 2  # lora_A and lora_B per target module per layer
        assert all(".lora_A." in k or ".lora_B." in k for k in weights), [k for k in weights if "lora_" not in k]
        assert max(t.numel() for t in weights.values()) <= 4 * 1536  # rank 4: no full base matrix slipped in
    b_keys = [k for k in first if ".lora_B." in k]
    # PEFT initialises every lora_B to zero: non-zero ones mean optimizer steps happened.
    assert all(first[k].abs().max() > 0 for k in b_keys)
    assert any(not torch.equal(first[k], second[k]) for k in b_keys)  # step 2 trained on from step 1
    assert any(".self_attn.q_proj." in k for k in b_keys) and any(".mlp.down_proj." in k for k in b_keys)
    config = json.loads((two_step_run.out / "step-2" / "adapter_config.json").read_text(encoding="utf-8"))
    assert config["r"] == 4 and config["lora_alpha"] == 8
    assert sorted(config["target_modules"]) == sorted(DEFAULT_TARGET_MODULES)


@pytest.mark.model
def test_training_leaves_the_base_model_untouched(two_step_run, converted):
    import torch

    after = base_snapshot(converted)
    assert after["files"] == two_step_run.before["files"]  # no file written, added or removed
    for name in BASE_TENSORS:
        assert torch.equal(after["tensors"][name], two_step_run.before["tensors"][name]), name


@pytest.mark.model
def test_gguf_twin_is_a_llamacpp_lora_of_the_same_weights(two_step_run):
    import gguf
    import numpy as np

    folder = two_step_run.out / "step-2"
    reader = gguf.GGUFReader(str(folder / "adapter.gguf"))
    fields = {name: reader.fields[name].contents() for name in ("general.type", "adapter.type", "adapter.lora.alpha")}
    assert fields == {"general.type": "adapter", "adapter.type": "lora", "adapter.lora.alpha": 8.0}
    tensors = {t.name: np.asarray(t.data) for t in reader.tensors}
    assert len(tensors) == N_LAYERS * N_TARGETS * 2
    weights = lora_weights(folder)
    # v_proj is stored as-is; q_proj's lora_B rows are permuted for llama.cpp's RoPE layout (same rows, new order).
    v_b = weights["base_model.model.model.layers.3.self_attn.v_proj.lora_B.weight"].numpy()
    assert np.array_equal(tensors["blk.3.attn_v.weight.lora_b"], v_b)
    q_a = weights["base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight"].numpy()
    assert np.array_equal(tensors["blk.3.attn_q.weight.lora_a"], q_a)
    q_b = weights["base_model.model.model.layers.3.self_attn.q_proj.lora_B.weight"].numpy()
    gguf_q_b = tensors["blk.3.attn_q.weight.lora_b"]
    assert gguf_q_b.shape == q_b.shape and not np.array_equal(gguf_q_b, q_b)
    assert np.array_equal(np.sort(gguf_q_b, axis=0), np.sort(q_b, axis=0))


# ------------------------------------------------------------------------------ 5. the adapter in use

@pytest.mark.model
def test_adapter_spec_loads_and_changes_the_greedy_reply(pineapple):
    texts = pineapple.texts
    spec, model_class = pineapple.kinds["adapter"]
    assert spec.adapter == str(pineapple.adapter.resolve()) and spec.adapter_kind == "local"
    assert issubclass(model_class, pineapple.peft_model_class)
    assert texts["base"].strip() and texts["adapter"].strip()
    assert texts["adapter"][:30] != texts["base"][:30], texts
    # It learned the training answer's opening, which the base model does not say.
    assert texts["adapter"].startswith("The answer is"), texts
    assert not texts["base"].startswith("The answer is"), texts


@pytest.mark.model
def test_gguf_lora_changes_llamacpp_the_same_way(pineapple):
    texts = pineapple.texts
    assert pineapple.kinds["gguf_adapter"][0].adapter_kind == "gguf-lora"
    # The two backends serve the same (Q4_1) weights: their plain greedy replies agree ...
    assert texts["gguf_base"][:30] == texts["base"][:30], texts
    # ... and so do the adapted ones, which differ from the plain ones.
    assert texts["gguf_adapter"][:30] == texts["adapter"][:30], texts
    assert texts["gguf_adapter"][:30] != texts["gguf_base"][:30], texts


@pytest.mark.model
def test_merged_export_loads_as_a_base_and_matches_the_adapter(pineapple):
    merged = pineapple.merged
    assert (merged / "config.json").is_file() and (merged / "model.safetensors").is_file()
    assert (merged / "tokenizer.json").is_file() and not (merged / "adapter_config.json").exists()
    config = json.loads((merged / "config.json").read_text(encoding="utf-8"))
    assert config.get("dtype", config.get("torch_dtype")) == "float16"
    spec = pineapple.kinds["merged"][0]
    assert spec.base_kind == "local" and spec.adapter is None
    # fp16 rounding may change later tokens, not the start.
    assert pineapple.texts["merged"][:20] == pineapple.texts["adapter"][:20], pineapple.texts


# ------------------------------------------------------------------------------------------------ 6. resume

@pytest.mark.model
def test_resume_continues_from_the_last_checkpoint(two_step_run, tmp_path, train_data):
    """A run that stopped after step 2 (as if it crashed), continued to step 4 in the same OUT."""
    from finetune.train import train

    out = tmp_path / "crashed-run"
    shutil.copytree(two_step_run.out, out)
    resume_from = last_resume_checkpoint(out)
    assert resume_from is not None and Path(resume_from).name == "checkpoint-2"
    progress = []
    result = train(tiny_config(train_data, out, max_steps=4, resume=True), on_progress=progress.append)
    assert {p.step for p in progress if p.loss is not None} == {3, 4}  # steps 1-2 were not trained again
    meta = read_meta(out / "step-4")
    assert meta["resumed_from"] is not None and "checkpoint-2" in meta["resumed_from"]
    assert meta["resumed_from"] == resume_from
    assert [e["step"] for e in meta["loss_curve"]] == [1, 2, 3, 4]  # the history was restored
    first_run = read_meta(two_step_run.out / "step-2")["loss_curve"]
    assert meta["loss_curve"][:2] == first_run
    assert [e["step"] for e in result.loss_curve] == [1, 2, 3, 4]
    assert result.checkpoints == [out / "step-4"]
    assert Path(last_resume_checkpoint(out)).name == "checkpoint-4"


@pytest.mark.model
def test_no_resume_starts_over(two_step_run, tmp_path, train_data):
    from finetune.train import train

    out = tmp_path / "fresh-run"
    shutil.copytree(two_step_run.out, out)
    progress = []
    train(tiny_config(train_data, out, max_steps=2, resume=False), on_progress=progress.append)
    assert {p.step for p in progress if p.loss is not None} == {1, 2}  # trained from step 1 again
    meta = read_meta(out / "step-2")
    assert meta["resumed_from"] is None
    assert [e["step"] for e in meta["loss_curve"]] == [1, 2]


def test_last_resume_checkpoint_orders_steps_numerically(tmp_path):
    assert last_resume_checkpoint(tmp_path) is None
    for step in (9, 10, 2):
        (tmp_path / "_resume" / f"checkpoint-{step}").mkdir(parents=True)
    assert last_resume_checkpoint(tmp_path) == str(tmp_path / "_resume" / "checkpoint-10")


# ------------------------------------------------------------------------------------------------- 7. config

def test_defaults_are_the_studys():
    config = FinetuneConfig()
    assert (config.lora_r, config.lora_alpha, config.lora_dropout) == (16, 16, 0.0)
    assert config.target_modules == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    assert (config.per_device_batch_size, config.gradient_accumulation_steps) == (2, 4)
    assert (config.learning_rate, config.weight_decay, config.lr_scheduler) == (2e-4, 0.01, "linear")
    assert config.base == ALIAS and config.engine == "auto" and config.resume is True
    assert load_config().to_dict() == config.to_dict()  # no file, no overrides: the defaults
    assert config.checkpoint_steps() == [config.max_steps]


def test_load_config_layers_defaults_file_and_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("lora_r: 8\nlearning_rate: 0.0001\nmax-steps: 30\nsave-steps: 10,20\n"
                    "target_modules: [q_proj, v_proj]\nresume: false\n", encoding="utf-8")
    from_file = load_config(str(path))
    assert (from_file.lora_r, from_file.learning_rate, from_file.max_steps) == (8, 1e-4, 30)
    assert from_file.save_steps == [10, 20] and from_file.target_modules == ["q_proj", "v_proj"]
    assert from_file.resume is False
    assert from_file.lora_alpha == 16 and from_file.weight_decay == 0.01  # untouched defaults
    layered = load_config(str(path), lora_r=32, learning_rate=None, save_steps=[5], resume=None)
    assert layered.lora_r == 32  # the override wins over the file
    assert layered.learning_rate == 1e-4 and layered.resume is False  # None means unset: the file's value stays
    assert layered.save_steps == [5] and layered.max_steps == 30
    assert layered.checkpoint_steps() == [5, 30]


def test_cli_flags_parse_to_config_values():
    from finetune.cli import make_parser

    args = make_parser().parse_args(["--save-steps", "2000,6150", "--max-steps", "7000", "--lora-r", "8",
                                     "--target-modules", "q_proj, v_proj", "--no-resume", "--learning-rate", "1e-4"])
    assert args.save_steps == [2000, 6150]
    overrides = {k: v for k, v in vars(args).items() if k not in ("config", "demo")}
    config = load_config(None, **overrides)
    assert config.save_steps == [2000, 6150] and config.max_steps == 7000 and config.lora_r == 8
    assert config.target_modules == ["q_proj", "v_proj"] and config.resume is False and config.learning_rate == 1e-4
    assert config.checkpoint_steps() == [2000, 6150, 7000]
    unset = make_parser().parse_args([])
    assert unset.resume is None and unset.save_steps is None and unset.lora_r is None
    assert load_config(None, **{k: v for k, v in vars(unset).items() if k not in ("config", "demo")}).resume is True


def test_unknown_yaml_key_is_named(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("lora_rank: 8\nmax_steps: 10\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="lora_rank"):
        load_config(str(path))


@pytest.mark.parametrize("text, expected", [("- 1\n- 2\n", "expected a mapping"), (None, "not found")])
def test_bad_config_file_is_a_config_error(tmp_path, text, expected):
    path = tmp_path / "bad.yaml"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=expected):
        load_config(str(path))


def test_save_steps_beyond_max_steps_is_a_config_error():
    with pytest.raises(ConfigError, match=r"save_steps \[5, 20\] must lie between 1 and max_steps \(10\)"):
        load_config(max_steps=10, save_steps=[5, 20])
    with pytest.raises(ConfigError, match="save_steps"):
        load_config(max_steps=10, save_steps="0")


@pytest.mark.parametrize("changes, expected", [
    ({"max_steps": 0}, "max_steps must be >= 1"),
    ({"lora_r": 0}, "lora_r must be >= 1"),
    ({"lora_dropout": 1.0}, "lora_dropout must be in [0, 1)"),
    ({"learning_rate": 0}, "learning_rate must be > 0"),
    ({"engine": "jax"}, "engine must be auto, peft or unsloth"),
])
def test_out_of_range_settings_are_config_errors(changes, expected):
    with pytest.raises(ConfigError) as caught:
        load_config(**changes)
    assert expected in str(caught.value)


def test_yaml_exponent_learning_rate(tmp_path):
    path = tmp_path / "lr.yaml"
    path.write_text("learning_rate: 2e-4\n", encoding="utf-8")
    assert load_config(str(path)).learning_rate == 2e-4


def test_engine_choice_on_this_cpu_machine():
    import torch

    assert not torch.cuda.is_available(), "this test describes the CPU machine"
    assert pick_engine(load_config()) == "peft"
    assert pick_engine(load_config(engine="peft")) == "peft"
    with pytest.raises(ConfigError, match="CUDA"):
        pick_engine(load_config(engine="unsloth"))


@pytest.mark.model
def test_training_refuses_adapter_and_llamacpp_bases(two_step_run, tmp_path, train_data):
    from finetune.train import base_source

    with pytest.raises(ConfigError, match="not an adapter spec"):
        base_source(parse_model_spec(f"{ALIAS}+{two_step_run.out / 'step-2'}"))
    with pytest.raises(ConfigError, match="transformers twin"):
        base_source(parse_model_spec(GGUF_ALIAS))


# ------------------------------------------------------------------------------------------ 8. the pickers

@pytest.mark.model
def test_checkpoints_appear_in_the_model_pickers(two_step_run, monkeypatch):
    monkeypatch.setenv("LLM_JUDGE_ADAPTERS", str(two_step_run.out.parent))
    specs = models.known_model_specs()
    name = two_step_run.out.name
    assert f"{ALIAS}+{name}/step-2" in specs and f"{ALIAS}+{name}/step-1" in specs, specs
    assert specs[:2] == [ALIAS, GGUF_ALIAS]
    parsed = parse_model_spec(f"{ALIAS}+{name}/step-2")
    assert parsed.adapter == str((two_step_run.out / "step-2").resolve())


@pytest.mark.model
def test_resume_checkpoints_are_not_offered(two_step_run, monkeypatch):
    monkeypatch.setenv("LLM_JUDGE_ADAPTERS", str(two_step_run.out.parent))
    assert not [s for s in models.known_model_specs() if "/_resume/" in s]
