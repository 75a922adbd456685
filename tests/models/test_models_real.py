"""models/ with the real embedded model: SmolLM2-135M-Instruct via transformers (`smollm2-135m`, from the converted
safetensors folder) and via llama.cpp (`smollm2-135m-gguf`). Nothing is mocked and nothing is downloaded:
hub ids are exercised through a hand-built offline Hugging Face cache in a subprocess (huggingface_hub reads
HF_HUB_OFFLINE / HF_HUB_CACHE when it is imported), and LoRA adapters are made here with PEFT.

Every generation is short (12-16 tokens; 60 for the grammar-constrained judge reply) to keep the file fast
on a small shared CPU.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import models
from models import ModelSpecError, SamplingSettings, load_model, parse_model_spec
from models.embedded import EMBEDDED_MODELS, converted_folder, ensure_converted
from models.registry import loaded_models

pytestmark = [pytest.mark.model, pytest.mark.usefixtures("one_thread_models")]

REPO_ROOT = Path(__file__).resolve().parents[2]
ALIAS = "smollm2-135m"
GGUF_ALIAS = "smollm2-135m-gguf"
HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
LOCAL_HUB_ID = "local-test/SmolLM2-135M-Instruct"
FAKE_COMMIT = "0123456789abcdef0123456789abcdef01234567"

PROMPT = [{"role": "user", "content": "Name a color."}]
GREEDY = SamplingSettings(temperature=0.0, min_p=0.0, max_new_tokens=12)
SAMPLED = SamplingSettings(temperature=0.5, min_p=0.05, max_new_tokens=12, seed=7)
BOTH_BACKENDS = pytest.mark.parametrize("spec", [ALIAS, GGUF_ALIAS])


# ------------------------------------------------------------------------------------------------ fixtures

@pytest.fixture
def backend(request):
    """The module's backend for the test's `spec` parameter."""
    return request.getfixturevalue({ALIAS: "base", GGUF_ALIAS: "gguf"}[request.getfixturevalue("spec")])


@pytest.fixture(scope="module")
def base_greedy_text(base) -> str:
    text = base.complete(PROMPT, GREEDY).text
    assert text.strip(), "the embedded model produced no text"
    return text


def run_python(code: str, env_updates: dict[str, str], tmp_path: Path, timeout: int = 180) -> dict:
    """Run `code` in a fresh interpreter at the repo root with a clean HF environment; it prints one JSON line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "TRANSFORMERS_"))}
    env.update({"HF_HOME": str(tmp_path / "hf-home"), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", **env_updates})
    prelude = f"import sys, json\nsys.path.insert(0, {str(REPO_ROOT)!r})\n"
    done = subprocess.run(
        [sys.executable, "-c", prelude + code], env=env, cwd=str(REPO_ROOT),
        capture_output=True, text=True, timeout=timeout,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert done.returncode == 0 and lines, f"subprocess failed (rc {done.returncode}):\n{done.stdout}\n{done.stderr[-4000:]}"
    return json.loads(lines[-1])


@pytest.fixture(scope="module")
def adapters_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("adapters-root") / "adapters"


@pytest.fixture(scope="module")
def rand_lora(adapters_root) -> Path:
    """A real PEFT LoRA adapter for the embedded model, with random (non-zero) B matrices so it changes outputs."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    folder = ensure_converted(EMBEDDED_MODELS[ALIAS])
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32)
    torch.manual_seed(0)
    peft_model = get_peft_model(
        model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    )
    out = adapters_root / "rand-lora"
    peft_model.save_pretrained(str(out))
    config_path = out / "adapter_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = HUB_ID  # what an adapter trained on the hub SmolLM2 records
    config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    assert (out / "adapter_model.safetensors").is_file()
    return out


def copy_adapter(source: Path, target: Path, base: str | None) -> Path:
    """A copy of `source` whose adapter_config.json records `base` (None: no base recorded)."""
    shutil.copytree(source, target)
    config_path = target / "adapter_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config.pop("base_model_name_or_path", None)
    if base is not None:
        config["base_model_name_or_path"] = base
    config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return target


# ------------------------------------------------------------------------------------- 1. embedded model

def test_embedded_model_loads_from_converted_folder_and_is_cached(base):
    model = EMBEDDED_MODELS[ALIAS]
    folder = converted_folder(model)
    assert (folder / "model.safetensors").is_file()
    assert (folder / "config.json").is_file()
    assert ensure_converted(model) == folder  # already converted: no second conversion

    from models.backends.hf import TransformersBackend

    assert isinstance(base, TransformersBackend)
    assert base.name == "transformers"
    assert base.spec.base_kind == "embedded" and base.spec.backend == "transformers"
    assert Path(base.model.name_or_path).resolve() == folder.resolve()

    again = load_model(ALIAS)
    assert again is base  # the in-process cache: no reload
    assert load_model(parse_model_spec(f"  {ALIAS} ")) is base  # the same canonical spec, the same entry
    assert ALIAS in loaded_models()


def test_gguf_twin_uses_llamacpp(gguf):
    from models.backends.llamacpp import LlamaCppBackend

    assert isinstance(gguf, LlamaCppBackend)
    assert gguf.name == "llamacpp" and gguf.spec.base_kind == "embedded-gguf"
    assert load_model(GGUF_ALIAS) is gguf


# ------------------------------------------------------------------------------------------ 2. determinism

@BOTH_BACKENDS
def test_same_seed_and_settings_give_the_same_text(spec, backend):
    first = backend.complete(PROMPT, SAMPLED).text
    other_seed = backend.complete(PROMPT, SAMPLED.with_(seed=8)).text  # moves the RNG on in between
    second = backend.complete(PROMPT, SAMPLED).text
    assert first.strip()
    assert second == first, f"{spec}: seed {SAMPLED.seed} gave {first!r} then {second!r} (seed 8: {other_seed!r})"


def test_a_fresh_llamacpp_model_gives_its_first_answer_again_for_the_same_seed():
    """The first call reads the whole prompt; a repeat of it used to read only its last token again (llama-cpp-python
    keeps the previous tokens), alone, and a one-token read rounds otherwise than a batch (up to 0.3 apart in the
    logits of the Q4_1 model here); on an earlier machine that flipped this near-tie, so the same seed gave another
    answer. What each call hands llama.cpp is recorded: the prompt, whole, every time."""
    from models.backends.llamacpp import load_llamacpp_backend

    fresh = load_llamacpp_backend(parse_model_spec(GGUF_ALIAS))  # not the cached instance: nothing read before
    cake = [{"role": "user", "content": "Explain how to bake a chocolate cake without using eggs."}]
    settings = SamplingSettings(temperature=0.5, min_p=0.05, max_new_tokens=40, seed=0)
    reads, evaluate = [], fresh.llm.eval
    fresh.llm.eval = lambda tokens: (reads.append(len(tokens)), evaluate(tokens))
    answers = []
    for _ in range(2):
        reads.clear()
        answers.append(fresh.complete(cake, settings).text)
        assert reads[0] == fresh.prompt_tokens(cake), f"the prompt was read as {reads[:3]}... tokens, not whole"
    assert answers[0].strip() and answers[1] == answers[0]


@BOTH_BACKENDS
def test_greedy_is_repeatable(spec, backend):
    first = backend.complete(PROMPT, GREEDY).text
    second = backend.complete(PROMPT, GREEDY.with_(seed=123)).text  # the seed must not matter when greedy
    assert first.strip()
    assert second == first


@BOTH_BACKENDS
def test_different_seeds_give_different_text_at_high_temperature(spec, backend):
    hot = SamplingSettings(temperature=1.5, min_p=0.05, max_new_tokens=12)
    texts = []
    for seed in range(5):  # stop as soon as two seeds disagree
        texts.append(backend.complete(PROMPT, hot.with_(seed=seed)).text)
        if len(set(texts)) > 1:
            break
    assert len(set(texts)) > 1, f"{spec}: seeds 0-4 at temperature 1.5 all gave {texts[0]!r}"


# --------------------------------------------------------------------------------------------- 3. streaming

@BOTH_BACKENDS
def test_streamed_pieces_join_to_the_complete_text(spec, backend):
    settings = SamplingSettings(temperature=0.5, min_p=0.05, max_new_tokens=16, seed=3)
    pieces = list(backend.generate(PROMPT, settings))
    assert len(pieces) > 1, f"{spec} streamed its 16-token answer as one piece: {pieces!r}"
    assert all(isinstance(p, str) and p for p in pieces)
    finished = backend.complete(PROMPT, settings)
    assert "".join(pieces) == finished.text
    assert finished.n_tokens > 1
    assert not backend.lock.locked()


@BOTH_BACKENDS
def test_streamed_text_matches_a_direct_generation(spec, backend):
    """complete() is built on the stream, so also check the stream against the library called without it."""
    streamed = "".join(backend.generate(PROMPT, GREEDY.with_(max_new_tokens=16)))
    if spec == ALIAS:
        import torch

        inputs = backend.encode_chat(PROMPT)
        with torch.inference_mode():
            output = backend.model.generate(
                **inputs, max_new_tokens=16, do_sample=False, pad_token_id=backend.tokenizer.eos_token_id
            )
        direct = backend.tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    else:
        reply = backend.llm.create_chat_completion(
            messages=PROMPT, max_tokens=16, temperature=0, top_k=0, min_p=0, repeat_penalty=1.0
        )
        direct = reply["choices"][0]["message"]["content"]
    assert streamed == direct


def test_stopping_a_stream_early_releases_the_model(base):
    stream = base.generate(PROMPT, SamplingSettings(temperature=0.0, min_p=0.0, max_new_tokens=16))
    first = next(stream)
    assert first
    assert base.lock.locked()  # held while the reply streams
    stream.close()  # a cancelled request
    assert not base.lock.locked()


def test_chat_template_is_applied(base):
    tokenizer = base.tokenizer
    im_start = tokenizer.convert_tokens_to_ids("<|im_start|>")
    assert tokenizer.encode("<|im_start|>", add_special_tokens=False) == [im_start]  # one special token
    ids = base.encode_chat(PROMPT)["input_ids"][0].tolist()
    assert ids.count(im_start) == 3  # system (default), user, assistant
    decoded = tokenizer.decode(ids)
    assert "<|im_start|>user\nName a color.<|im_end|>" in decoded
    assert decoded.endswith("<|im_start|>assistant\n")  # the generation prompt


# ------------------------------------------------------------------------------------------ 4. hub ids

@pytest.fixture(scope="module")
def local_hub_cache(tmp_path_factory) -> Path:
    """An offline Hugging Face hub cache holding the converted embedded model under LOCAL_HUB_ID."""
    source = ensure_converted(EMBEDDED_MODELS[ALIAS])
    cache = tmp_path_factory.mktemp("hf") / "hub"
    repo = cache / ("models--" + LOCAL_HUB_ID.replace("/", "--"))
    snapshot = repo / "snapshots" / FAKE_COMMIT
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(FAKE_COMMIT, encoding="utf-8")
    names = ["config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
             "tokenizer_config.json", "chat_template.jinja"]
    for name in names:
        if name == "model.safetensors":
            (snapshot / name).symlink_to(source / name)
        else:
            shutil.copy2(source / name, snapshot / name)
    return cache


HUB_SCRIPT = """
from models import ModelLoadError, SamplingSettings, load_model, parse_model_spec
out = {}
spec = parse_model_spec(%(hub_id)r)
out["base_kind"], out["text"] = spec.base_kind, spec.text
backend = load_model(spec)
out["name_or_path"] = backend.model.name_or_path
out["greedy"] = backend.complete(%(prompt)r, SamplingSettings(temperature=0, min_p=0, max_new_tokens=%(n)d)).text
try:
    load_model("nobody/does-not-exist")
    out["unknown"] = "loaded"
except ModelLoadError as exc:
    out["unknown"] = "ModelLoadError: " + str(exc)
except Exception as exc:
    out["unknown"] = type(exc).__name__ + ": " + str(exc)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def hub_run(local_hub_cache, tmp_path_factory) -> dict:
    code = HUB_SCRIPT % {"hub_id": LOCAL_HUB_ID, "prompt": PROMPT, "n": GREEDY.max_new_tokens}
    return run_python(code, {"HF_HUB_CACHE": str(local_hub_cache)}, tmp_path_factory.mktemp("hub-run"))


def test_hub_id_parses_as_hub():
    spec = parse_model_spec(LOCAL_HUB_ID)
    assert (spec.base_kind, spec.base, spec.text, spec.backend) == ("hub", LOCAL_HUB_ID, LOCAL_HUB_ID, "transformers")


def test_hub_id_loads_offline_from_the_local_cache(hub_run, base_greedy_text):
    assert hub_run["base_kind"] == "hub" and hub_run["text"] == LOCAL_HUB_ID
    assert hub_run["name_or_path"] == LOCAL_HUB_ID
    assert hub_run["greedy"] == base_greedy_text  # the same weights as the embedded model


def test_unknown_hub_id_offline_raises_model_load_error(hub_run):
    outcome = hub_run["unknown"]
    assert outcome.startswith("ModelLoadError: "), outcome
    assert "nobody/does-not-exist" in outcome
    assert "offline" in outcome.lower() and "cache" in outcome.lower()


# --------------------------------------------------------------------------------------------- 5. adapters

def test_adapter_changes_the_output(base, base_greedy_text, rand_lora):
    backend = load_model(f"{ALIAS}+{rand_lora}")
    from peft import PeftModel

    assert isinstance(backend.model, PeftModel)
    assert backend.spec.adapter == str(rand_lora.resolve()) and backend.spec.adapter_kind == "local"
    assert backend is not base and backend.model is not base.model
    adapted = backend.complete(PROMPT, GREEDY).text
    assert adapted != base_greedy_text, "a LoRA with non-zero B matrices left the greedy output unchanged"
    # Loading the adapter must not have patched the cached base model in place.
    assert base.complete(PROMPT, GREEDY).text == base_greedy_text


def test_adapter_by_name_under_the_adapters_folder(rand_lora, adapters_root, monkeypatch, tmp_path):
    monkeypatch.setenv("LLM_JUDGE_ADAPTERS", str(adapters_root))
    monkeypatch.chdir(tmp_path)  # no ./rand-lora here: the name must resolve under the adapters folder
    spec = parse_model_spec(f"{ALIAS}+rand-lora")
    assert spec.adapter == str(rand_lora.resolve())
    assert spec.text == f"{ALIAS}+{rand_lora.resolve()}"
    assert load_model(f"{ALIAS}+rand-lora") is load_model(f"{ALIAS}+{rand_lora}")  # one cache entry

    assert models.list_local_adapters() == [rand_lora]
    offered = [s for s in models.known_model_specs() if s.endswith("+rand-lora")]
    assert len(offered) == 1, models.known_model_specs()
    assert parse_model_spec(offered[0]).adapter == str(rand_lora.resolve())


def test_offered_adapter_spec_loads_offline(rand_lora, adapters_root, tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_JUDGE_ADAPTERS", str(adapters_root))
    [offered] = [s for s in models.known_model_specs() if s.endswith("+rand-lora")]
    code = f"""
from models import load_model
try:
    load_model({offered!r})
    print(json.dumps({{"outcome": "loaded"}}))
except Exception as exc:
    print(json.dumps({{"outcome": type(exc).__name__ + ": " + str(exc)}}))
"""
    result = run_python(code, {"HF_HUB_CACHE": str(tmp_path / "empty-hub"), "LLM_JUDGE_ADAPTERS": str(adapters_root)},
                        tmp_path)
    assert result["outcome"] == "loaded", f"the picker offers {offered!r}, which does not load offline: {result}"


def test_adapter_recorded_for_another_base_is_refused(rand_lora, tmp_path):
    other = copy_adapter(rand_lora, tmp_path / "other-lora", base="other-org/other-model")
    with pytest.raises(ModelSpecError) as caught:
        parse_model_spec(f"{ALIAS}+{other}")
    message = str(caught.value)
    assert "other-org/other-model" in message and ALIAS in message


def test_adapter_with_wrong_weight_shapes_is_refused_on_load(rand_lora, tmp_path):
    import torch
    from safetensors.torch import load_file, save_file

    bad = copy_adapter(rand_lora, tmp_path / "bad-shape-lora", base=None)
    weights_path = bad / "adapter_model.safetensors"
    weights = load_file(str(weights_path))
    name = next(k for k in sorted(weights) if "lora_A" in k)
    rank, width = weights[name].shape
    weights[name] = torch.zeros(rank, width + 8)  # as if trained on a base with a wider hidden size
    save_file(weights, str(weights_path))

    spec = parse_model_spec(f"{ALIAS}+{bad}")  # nothing recorded: the shapes are only checked at load
    assert spec.adapter == str(bad.resolve())
    before = set(loaded_models())
    with pytest.raises(ModelSpecError) as caught:
        load_model(spec)
    assert "does not fit base" in str(caught.value) and ALIAS in str(caught.value)
    assert "size mismatch" in str(caught.value.__cause__)
    assert set(loaded_models()) == before  # a failed load is not cached


def test_peft_folder_on_gguf_base_is_refused(rand_lora):
    with pytest.raises(ModelSpecError, match="GGUF"):
        parse_model_spec(f"{GGUF_ALIAS}+{rand_lora}")
    with pytest.raises(ModelSpecError, match="GGUF"):
        load_model(f"{GGUF_ALIAS}+{rand_lora}")


# ----------------------------------------------------------------------------------- 6. llama.cpp grammar

def test_llamacpp_grammar_makes_the_judge_reply_parse(gguf):
    from judge.output_format import output_grammar
    from judge.parsing import parse_single_reply
    from judge.templates import default_template

    template = default_template("single")
    assert gguf.supports_grammar
    messages = template.render(prompt="Name a primary color.", answer="Blue is a primary color.")
    reply = gguf.score(
        messages, SamplingSettings(temperature=0, min_p=0, max_new_tokens=60),
        grammar=output_grammar(template.output_format),
    )
    assert re.fullmatch(r"Relevance: [1-4]\nCoherence: [1-4]\nCompleteness: [1-4]\nReasons: [^\n]+", reply.text), \
        reply.text
    parsed = parse_single_reply(reply.text, ("relevance", "coherence", "completeness"), (1, 4))
    assert set(parsed.scores) == {"relevance", "coherence", "completeness"}
    assert all(1 <= v <= 4 for v in parsed.scores.values())
    assert not gguf.lock.locked()
