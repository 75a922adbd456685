"""Hostile and careless input to runs, the CLI, backends and finetune data (issue 11, items 2 and 6), one named case each.

Every failing case ends with exit status 2 and one line on stderr that names the problem and the fix, no traceback, and
no run folder left behind by the start that failed. Cases that do not need a real model use scripted models; the ones
that do are marked `model`. Below the table: what must still work (a long prompt cut by choice, a records file cut by a
full disk, a prompt whose generation fails mid-set) and the reproducibility checks (file hashes, same seed).
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO_ROOT, judge_cli

JUDGE = "scripted:Relevance: 4\\nCoherence: 3\\nCompleteness: 4"
SCRIPTED = ["--model-a", "scripted:hello there", "--model-b", "scripted:world", "--judge", JUDGE]
HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
PR_CAPBSET_DROP, CAP_DAC_OVERRIDE = 24, 1


def run_folders(out: Path) -> list[Path]:
    return [p.parent for p in out.rglob("run.json")] if out.is_dir() else []


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def small_context_model(tmp: Path, context: int = 12) -> str:
    """A scripted model with a context window of `context` tokens (words)."""
    write(tmp / "small.json", json.dumps({"replies": ["a short answer"], "context": context}))
    return f"scripted:@{tmp / 'small.json'}"


def safetensors_bytes() -> bytes:
    import numpy as np
    from safetensors.numpy import save

    return save({"base_model.model.layer.lora_A.weight": np.ones((4, 8), dtype=np.float32)})


def adapter(tmp: Path, weights: bytes | None = b"", config: str | None = None) -> list[str]:
    """CLI args with Model A = the embedded base + an adapter folder holding `config` and `weights` (None: no file)."""
    folder = tmp / "lora"
    write(folder / "adapter_config.json", config if config is not None else json.dumps(
        {"peft_type": "LORA", "base_model_name_or_path": HUB_ID, "r": 4, "target_modules": ["q_proj"]}))
    if weights is not None:
        write(folder / "adapter_model.safetensors", weights)
    return ["--prompt", "hi", "--model-a", f"smollm2-135m+{folder}", "--model-b", "scripted:world", "--judge", JUDGE]


def finished_run(tmp: Path) -> Path:
    """A finished 2-prompt scripted run, its summary removed as if it were interrupted."""
    result = judge_cli("--prompts", "study", "--limit", "2", *SCRIPTED, out=tmp / "earlier")
    assert result.returncode == 0, result.stderr
    folder = Path(result.stdout.strip())
    (folder / "summary.json").unlink()
    return folder


def damaged_run_json(tmp: Path, content: bytes) -> list[str]:
    folder = finished_run(tmp)
    (folder / "run.json").write_bytes(content)
    return ["--resume", str(folder)]


def without_permission_override() -> None:
    """In the child, before exec: drop CAP_DAC_OVERRIDE from the bounding set, so root too meets file permissions."""
    import ctypes

    if ctypes.CDLL(None, use_errno=True).prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) refused")


# (case id in the words) -> (args for `python -m judge compare`, what names the problem, what names the fix)
CLI_CASES = [
    # the test's --out is tmp/out: made a file here
    pytest.param(lambda t: [write(t / "out", "x") and "--prompt", "hi", *SCRIPTED],
                 "is a file, not a folder", "choose a folder you can write to", id="--out is an existing file"),
    pytest.param(lambda t: ["--prompt", "one two three four five six seven eight nine ten eleven", "--model-a",
                            small_context_model(t), "--model-b", "scripted:world", "--judge", JUDGE,
                            "--max-new-tokens", "4"],
                 "prompt 'prompt-1' is too long for model A", "--long-prompts truncate",
                 id="a prompt longer than the model's context"),
    pytest.param(lambda t: ["--prompts", str(write(t / "set.jsonl", '{"id": "first", "prompt": "short"}\n'
                                                   '{"id": "second", "prompt": "' + "word " * 40 + '"}\n')),
                            "--model-a", small_context_model(t), "--model-b", "scripted:world", "--judge", JUDGE,
                            "--max-new-tokens", "4"],
                 "prompt 'second' is too long for model A", "shorten it",
                 id="a long prompt as the second prompt of a set is refused before the first is answered"),
    pytest.param(lambda t: ["--prompt", b"caf\xe9 au lait", *SCRIPTED],
                 "--prompt holds text that is not UTF-8 (byte 0xe9 at character 4)", "set your terminal to UTF-8",
                 id="non-UTF-8 bytes in a prompt"),
    pytest.param(lambda t: adapter(t, weights=b"\x00garbage" * 20), "adapter_model.safetensors is damaged",
                 "save or copy the whole adapter folder again", id="corrupt adapter weights"),
    pytest.param(lambda t: adapter(t, weights=safetensors_bytes()[:-40]), "adapter_model.safetensors is damaged",
                 "save or copy the whole adapter folder again", id="truncated adapter weights"),
    pytest.param(lambda t: adapter(t, weights=b""), "adapter_model.safetensors is empty (0 bytes)",
                 "save or copy the whole adapter folder again", id="empty adapter weights"),
    # models/spec.py reads adapter_config.json first (to check the adapter's base): its message is the one seen
    pytest.param(lambda t: adapter(t, weights=safetensors_bytes(), config='{"peft_type": "LORA", "r": '),
                 "lora/adapter_config.json", "again", id="corrupt adapter_config.json"),
    pytest.param(lambda t: adapter(t, weights=safetensors_bytes(), config=""), "lora/adapter_config.json", "again",
                 id="empty adapter_config.json"),
    pytest.param(lambda t: adapter(t, weights=None), "has adapter_config.json but no weights",
                 "save or copy the whole adapter folder again", id="an adapter without weights"),
    pytest.param(lambda t: ["--prompt", "hi", *SCRIPTED, "--seed", str(2**64)],
                 "--seed must be a whole number from 0 to 18446744073709551615", "got 18446744073709551616",
                 id="a seed of 2^64"),
    pytest.param(lambda t: ["--prompt", "hi", *SCRIPTED, "--seed", "-1"],
                 "--seed must be a whole number from 0", "got -1", id="a negative seed"),
    pytest.param(lambda t: ["--prompts", "study", *SCRIPTED, "--limit", "0"], "--limit must be at least 1",
                 "leave --limit out to run them all", id="--limit 0 runs every prompt"),
    pytest.param(lambda t: ["--prompts", "study", *SCRIPTED, "--limit", "-1"], "--limit must be at least 1",
                 "leave --limit out to run them all", id="--limit -1 drops the last"),
    pytest.param(lambda t: ["--prompt", "hi", *SCRIPTED, "--template", "no-such-template"],
                 "judge template 'no-such-template' not found", "known templates",
                 id="a failed start (bad template) leaves no run folder"),
    pytest.param(lambda t: ["--prompt", "hi", "--model-a", "no-such-model", "--model-b", "scripted:b",
                            "--judge", JUDGE], "unknown model 'no-such-model'", "use an embedded alias",
                 id="a failed start (bad model) leaves no run folder"),
    pytest.param(lambda t: damaged_run_json(t, b'{"run_id": "x", "config": {'), "run.json is damaged (not valid JSON",
                 "run the comparison again", id="a corrupt run.json on resume"),
    pytest.param(lambda t: damaged_run_json(t, b""), "run.json is damaged (it is empty)", "run the comparison again",
                 id="an empty run.json on resume"),
    pytest.param(lambda t: ["--prompt", "hi", *SCRIPTED, "--judge-temperature", "9"],
                 "--judge-temperature must be between 0 and 5", "got 9.0",
                 id="the judge-setting errors name --judge-temperature"),
    pytest.param(lambda t: ["--prompt", "hi", *SCRIPTED, "--judge-max-new-tokens", "0"],
                 "--judge-max-new-tokens must be 1..8192", "got 0", id="the judge-setting errors name their flag"),
    pytest.param(lambda t: ["--prompt", "hi", "--model-a", "scripted:hello", "--model-b", "smollm2-135m-gguf",
                            "--judge", JUDGE, "--seed", str(2**32)],
                 "seed 4294967296 is outside what the llamacpp backend takes", "pick a seed from 0 to 4294967294",
                 id="on llama.cpp, seed 2^32 gives seed 0's answer", marks=pytest.mark.model),
    pytest.param(lambda t: ["--prompts", str(write(t / "set.jsonl", '{"id": "first", "prompt": "Hi."}\n'
                                                   '{"id": "second", "prompt": "' + "word " * 9000 + '"}\n')),
                            "--model-a", "smollm2-135m", "--model-b", "scripted:world", "--judge", JUDGE],
                 "prompt 'second' is too long for model A (smollm2-135m)", "--long-prompts truncate",
                 id="on transformers a prompt longer than the context, second of a set, is refused before any answer",
                 marks=pytest.mark.model),
    pytest.param(lambda t: ["--prompt", "hi", "--model-a", "smollm2-135m-judge", "--model-b", "scripted:world",
                            "--judge", JUDGE], "model A (smollm2-135m-judge) is a scoring judge",
                 "use it as the judge", id="a scoring judge as a model that answers", marks=pytest.mark.model),
]


def assert_one_clear_line(result: subprocess.CompletedProcess, problem: str, fix: str) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and problem in lines[0] and fix in lines[0], lines[0]
    return lines[0]


@pytest.mark.process  # the judge CLI in its own process, case by case
@pytest.mark.parametrize("make_args, problem, fix", CLI_CASES)
def test_a_hostile_cli_case_ends_in_one_clear_line(tmp_path, make_args, problem, fix):
    args = make_args(tmp_path)
    out = tmp_path / "out"
    before = run_folders(tmp_path)
    line = assert_one_clear_line(judge_cli(*args, out=out, timeout=300), problem, fix)
    assert "Repo id" not in line and "records are kept" not in line
    assert run_folders(tmp_path) == before, "a failed start leaves no run folder"


@pytest.mark.parametrize("mode, inner", [
    pytest.param(0o500, None, id="an unwritable --out (chmod 500)"),
    pytest.param(0o555, "new-results", id="a read-only --out"),
])
def test_an_out_folder_that_cannot_be_written_is_refused_before_anything_loads(tmp_path, mode, inner):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(mode)
    # Root writes anywhere its permission override allows: the CLI runs without it, as a user's would.
    extra = {"preexec_fn": without_permission_override} if os.geteuid() == 0 else {}
    try:
        try:
            result = subprocess.run([sys.executable, "-m", "judge", "compare", "--prompt", "hi", *SCRIPTED, "--out",
                                     str(locked / inner if inner else locked)], cwd=REPO_ROOT, capture_output=True,
                                    text=True, timeout=120, **extra)
        except subprocess.SubprocessError as exc:
            pytest.skip(f"root without CAP_SETPCAP cannot drop its permission override here ({exc})")
        assert_one_clear_line(result, "cannot write run folders in", "choose a folder you can write to")
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


def test_non_utf8_finetune_data_is_refused_before_the_model_loads(tmp_path):
    data = write(tmp_path / "chats.jsonl", b'{"prompt": "hi", "response": "fine"}\n{"prompt": "caf\xe9", '
                                           b'"response": "ok"}\n')
    result = subprocess.run([sys.executable, "-m", "finetune", "--data", str(data), "--out", str(tmp_path / "ft")],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert_one_clear_line(result, "line 2: b'\\xe9')", "save the file as UTF-8")
    assert not (tmp_path / "ft").exists()


def test_a_records_file_cut_inside_a_utf8_character_is_resumed_with_a_notice(tmp_path):
    folder = finished_run(tmp_path)
    records = folder / "records.jsonl"
    lines = records.read_bytes().split(b"\n")[:-1]
    last = json.loads(lines[-1])
    last["prompt"] += " café"
    torn = json.dumps(last, ensure_ascii=False).encode("utf-8")
    torn = torn[: torn.index("é".encode()) + 1]  # a full disk stopped the write inside the two-byte é
    records.write_bytes(b"\n".join(lines[:-1]) + b"\n" + torn)

    from runs.store import list_runs, load_run

    assert len(load_run(folder).records) == 1  # the cut line counts as not written
    assert folder.name in [run.folder for run in list_runs(folder.parent)]
    result = judge_cli("--resume", str(folder), out=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "was cut off mid-write" in result.stderr and "Traceback" not in result.stderr
    assert [r["id"] for r in load_run(folder).records] == ["study-01", "study-02"]


def test_a_damaged_line_inside_records_jsonl_is_skipped_and_redone(tmp_path):
    folder = finished_run(tmp_path)
    records = folder / "records.jsonl"
    first, second = records.read_bytes().split(b"\n")[:2]
    records.write_bytes(b"\xff\xfe" + first[2:] + b"\n" + second + b"\n")
    result = judge_cli("--resume", str(folder), out=tmp_path)
    assert result.returncode == 0, result.stderr
    from runs.store import load_run

    assert sorted(r["id"] for r in load_run(folder).records) == ["study-01", "study-02"]


def test_a_long_prompt_is_cut_to_fit_by_choice_with_a_note_said_once(tmp_path):
    words = " ".join(f"w{i}" for i in range(30))
    prompts = write(tmp_path / "set.jsonl", "".join(json.dumps({"id": f"p{i}", "prompt": words}) + "\n"
                                                    for i in range(2)))
    result = judge_cli("--prompts", str(prompts), "--model-a", small_context_model(tmp_path, 12), "--model-b",
                       "scripted:world", "--judge", JUDGE, "--max-new-tokens", "4", "--long-prompts", "truncate",
                       out=tmp_path / "out")
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if line.startswith("note: prompt 'p0' was cut")]
    assert len(notes) == 1 and "it read 30 tokens, now 8" in notes[0]
    folder = Path(result.stdout.strip())
    record = json.loads((folder / "records.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert record["prompt"] == " ".join(words.split()[:8]) and "was cut to fit" in record["warnings"][0]
    assert json.loads((folder / "run.json").read_text())["prompts"][0]["prompt"] == words  # the original is kept


def test_a_prompt_whose_generation_fails_mid_set_is_a_failed_record_and_resume_redoes_only_it(tmp_path, monkeypatch):
    from models.backends.scripted import ScriptedBackend
    from models.registry import unload_all
    from runs.config import CompareConfig
    from runs.pipeline import resume_compare, run_compare
    from runs.prompt_sets import PromptItem
    from runs.store import read_records

    original = ScriptedBackend.stream

    def stream(self, messages, settings):
        if self.spec.text == "scripted:world" and "second" in messages[-1]["content"]:
            raise RuntimeError("out of memory")  # as a local backend fails: not a UserFacingError
        return original(self, messages, settings)

    unload_all()
    monkeypatch.setattr(ScriptedBackend, "stream", stream)
    items = [PromptItem(id=name, prompt=f"the {name} prompt") for name in ("first", "second", "third")]
    config = CompareConfig(model_a="scripted:hello there", model_b="scripted:world", judge=JUDGE,
                           out_dir=str(tmp_path))
    updates = list(run_compare(config, items))
    folder = updates[-1].run_dir
    records = {r["id"]: r for r in read_records(folder)}
    assert [records[i]["status"] for i in ("first", "second", "third")] == ["ok", "failed", "ok"]
    failed = records["second"]
    assert "model B (scripted:world) failed on this prompt (RuntimeError: out of memory)" in failed["error"]
    assert failed["answers"]["A"]["text"] == "hello there"  # the answer made before the failure is kept
    assert "1 failed: finish them with --resume" in updates[-1].message

    monkeypatch.setattr(ScriptedBackend, "stream", original)
    unload_all()
    resumed = [u for u in resume_compare(folder) if u.stage == "record"]
    assert [u.record["id"] for u in resumed] == ["second"] and resumed[0].record["status"] == "ok"
    assert sorted(r["id"] for r in read_records(folder)) == ["first", "second", "third"]
    unload_all()


def test_a_full_disk_mid_run_is_a_message_and_the_records_saved_before_it_are_resumed(tmp_path, monkeypatch):
    import errno

    import runs.store
    from models.registry import unload_all
    from runs.config import CompareConfig
    from runs.pipeline import resume_compare, run_compare
    from runs.prompt_sets import PromptItem
    from runs.store import read_records

    written = []
    real_append = runs.store.append_jsonl

    def append(path, data):
        if written:
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(data["id"])
        real_append(path, data)

    unload_all()
    monkeypatch.setattr(runs.store, "append_jsonl", append)
    items = [PromptItem(id=f"q{i}", prompt=f"Question {i}?") for i in range(3)]
    config = CompareConfig(model_a="scripted:hello there", model_b="scripted:world", judge=JUDGE,
                           out_dir=str(tmp_path))
    updates = run_compare(config, items)
    with pytest.raises(runs.store.UserFacingError) as caught:
        for update in updates:
            folder = update.run_dir
    assert "No space left on device" in str(caught.value) and f"--resume {folder}" in str(caught.value)
    assert [r["id"] for r in read_records(folder)] == ["q0"]
    monkeypatch.setattr(runs.store, "append_jsonl", real_append)
    list(resume_compare(folder))
    assert [r["id"] for r in read_records(folder)] == ["q0", "q1", "q2"]
    unload_all()


# ------------------------------------------------------------------------------------------- reproducibility

def test_run_json_records_the_hashes_of_a_models_files(tmp_path):
    replies = write(tmp_path / "replies.json", json.dumps(["an answer"]))
    result = judge_cli("--prompt", "hi", "--model-a", f"scripted:@{replies}", "--model-b", "scripted:world",
                       "--judge", JUDGE, out=tmp_path / "out")
    assert result.returncode == 0, result.stderr
    models = json.loads((Path(result.stdout.strip()) / "run.json").read_text())["models"]
    (entry,) = models["model_a"]["files"]
    assert entry["sha256"] == hashlib.sha256(replies.read_bytes()).hexdigest() and entry["size"] == replies.stat().st_size
    assert models["model_b"]["files"] == []


def test_adapter_and_base_files_are_fingerprinted(tmp_path):
    from models.spec import ModelSpec
    from runs.fingerprints import model_files

    folder = tmp_path / "lora"
    weights = write(folder / "adapter_model.safetensors", safetensors_bytes())
    config = write(folder / "adapter_config.json", json.dumps({"peft_type": "LORA"}))
    spec = ModelSpec(text=f"smollm2-135m+{folder}", base="smollm2-135m", base_kind="embedded", adapter=str(folder),
                     adapter_kind="local")
    found = {Path(f["path"]).name: f for f in model_files(spec)}
    assert found["adapter_model.safetensors"]["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert found["adapter_config.json"]["sha256"] == hashlib.sha256(config.read_bytes()).hexdigest()
    (base,) = [f for f in found.values() if f["role"] == "base"]
    assert base["path"].endswith(".gguf") and len(base["sha256"]) == 64  # the GGUF the embedded model comes from


@pytest.mark.model
def test_the_same_seed_gives_the_same_answer_and_the_same_fingerprints(tmp_path):
    runs = []
    for attempt in range(2):
        result = judge_cli("--prompt", "Write one sentence about cats.", "--model-a", "smollm2-135m-gguf",
                           "--model-b", "scripted:world", "--judge", JUDGE, "--seed", "4294967294",
                           "--temperature", "1.0", "--max-new-tokens", "12", out=tmp_path / f"run{attempt}")
        assert result.returncode == 0, result.stderr
        runs.append(Path(result.stdout.strip()))
    answers = [json.loads((f / "records.jsonl").read_text())["answers"]["A"]["text"] for f in runs]
    files = [json.loads((f / "run.json").read_text())["models"]["model_a"]["files"] for f in runs]
    assert answers[0] == answers[1] and answers[0]
    assert files[0] == files[1] and files[0][0]["role"] == "base" and len(files[0][0]["sha256"]) == 64


@pytest.mark.model
def test_both_real_backends_report_their_context_window_and_prompt_tokens(base, gguf):
    messages = [{"role": "user", "content": "Name three colours."}]
    assert base.context_length() == base.model.config.max_position_embeddings == 8192
    assert base.prompt_tokens(messages) == base.encode_chat(messages)["input_ids"].shape[1]
    assert gguf.context_length() == gguf.llm.n_ctx() == 4096
    assert gguf.prompt_tokens(messages) == len(gguf._token_ids(gguf._chat_prompt(messages)))
    assert gguf.seed_problem(2**32 - 2) is None and "32-bit" in gguf.seed_problem(2**32 - 1)
    assert base.seed_problem(2**64 - 1) is None


@pytest.mark.model
def test_on_llama_cpp_a_prompt_longer_than_the_context_is_cut_to_fit_and_answered(tmp_path):
    # A 512-token context ($LLM_JUDGE_LLAMA_CONTEXT): the same cut as at the default 4,096, an eighth of the prefill.
    prompt = "Summarise this. " + "The cat sat on the mat. " * 120  # about 850 tokens
    result = judge_cli("--prompt", prompt, "--model-a", "smollm2-135m-gguf", "--model-b", "scripted:world",
                       "--judge", JUDGE, "--max-new-tokens", "8", "--long-prompts", "truncate", out=tmp_path,
                       env={**os.environ, "LLM_JUDGE_THREADS": "1", "LLM_JUDGE_LLAMA_CONTEXT": "512"})
    assert result.returncode == 0, result.stderr
    assert "note: prompt 'prompt-1' was cut to fit the context window of model A (smollm2-135m-gguf), 512 tokens" \
        in result.stderr
    record = json.loads((Path(result.stdout.strip()) / "records.jsonl").read_text(encoding="utf-8"))
    assert record["status"] == "ok" and record["answers"]["A"]["text"] and len(record["prompt"]) < len(prompt)


@pytest.mark.model
def test_run_json_holds_the_hashes_of_a_real_peft_adapter(tmp_path, one_thread_models):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from models.embedded import EMBEDDED_MODELS, ensure_converted

    model = AutoModelForCausalLM.from_pretrained(str(ensure_converted(EMBEDDED_MODELS["smollm2-135m"])),
                                                 dtype=torch.float32)
    lora = get_peft_model(model, LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj"]))
    lora.save_pretrained(str(tmp_path / "lora"))
    result = judge_cli("--prompt", "Say hi.", "--model-a", f"smollm2-135m+{tmp_path / 'lora'}", "--model-b",
                       "scripted:world", "--judge", JUDGE, "--max-new-tokens", "4", out=tmp_path / "out",
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    files = json.loads((Path(result.stdout.strip()) / "run.json").read_text())["models"]["model_a"]["files"]
    by_name = {Path(f["path"]).name: f for f in files}
    for name in ("adapter_model.safetensors", "adapter_config.json"):
        expected = hashlib.sha256((tmp_path / "lora" / name).read_bytes()).hexdigest()
        assert by_name[name]["role"] == "adapter" and by_name[name]["sha256"] == expected
    assert any(f["role"] == "base" and f["path"].endswith(".gguf") for f in files)
