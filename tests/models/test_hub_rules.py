"""The hub resolution rules as a table: a repo's file list (as the hub or the cache lists it) and what the user typed
-> the backend kind, the file picked, and the notice or the error (models/hub_repos.py)."""
import pytest

from models.errors import ModelSpecError
from models.hub_repos import (
    RepoFiles,
    choose_from_files,
    choose_gguf_lora,
    full_precision_twin,
    quant_of,
    split_hub_reference,
)

MB = 1_000_000
UNSLOTH_GGUF = {"unsloth.Q4_K_M.gguf": 2_000 * MB, "unsloth.Q8_0.gguf": 3_400 * MB, "unsloth.F16.gguf": 6_400 * MB,
                "README.md": 1_000, "config.json": 900}  # push_to_hub_gguf also uploads the config
F16_ONLY = {"unsloth.F16.gguf": 6_400 * MB, "README.md": 1_000}  # the seed Space's models
NO_Q4_K_M = {"model-Q8_0.gguf": 3_400 * MB, "model-Q5_K_M.gguf": 2_300 * MB, "model-F16.gguf": 6_400 * MB}
SPLIT = {"big-Q4_K_M-00001-of-00002.gguf": 40_000 * MB, "big-Q4_K_M-00002-of-00002.gguf": 3_000 * MB,
         "big-Q2_K.gguf": 30_000 * MB, "mmproj-F16.gguf": 800 * MB}
MERGED = {"config.json": 900, "model.safetensors": 6_400 * MB, "tokenizer.json": 9 * MB}
SHARDED = {"config.json": 900, "model-00001-of-00002.safetensors": 5_000 * MB,
           "model-00002-of-00002.safetensors": 1_400 * MB, "model.safetensors.index.json": 20_000}
ADAPTER = {"adapter_config.json": 800, "adapter_model.safetensors": 97 * MB, "tokenizer.json": 9 * MB}
ADAPTER_AND_GGUF = {**ADAPTER, "unsloth.Q4_K_M.gguf": 2_000 * MB}
CONFIG_BUT_GGUF_WEIGHTS = {"config.json": 900, "Llama-3.2-3B-Instruct-Q4_K_M.gguf": 2_000 * MB,
                           "Llama-3.2-3B-Instruct-IQ4_XS.gguf": 1_800 * MB}
NOTHING = {"README.md": 1_000, ".gitattributes": 100}


def listing(sizes: dict) -> RepoFiles:
    return RepoFiles(repo_id="org/repo", revision="a" * 40, sizes=sizes, source="cache")


@pytest.mark.parametrize("sizes, quant, file, kind, picked, notice", [
    (MERGED, None, None, "transformers", None, None),
    (SHARDED, None, None, "transformers", None, None),
    (ADAPTER, None, None, "adapter", None, None),
    (ADAPTER_AND_GGUF, None, None, "adapter", None, "name org/repo:QUANT"),
    (ADAPTER_AND_GGUF, "Q4_K_M", None, "gguf", "unsloth.Q4_K_M.gguf", None),
    (UNSLOTH_GGUF, None, None, "gguf", "unsloth.Q4_K_M.gguf", "also here: Q8_0, F16"),
    (UNSLOTH_GGUF, "q8_0", None, "gguf", "unsloth.Q8_0.gguf", None),
    (UNSLOTH_GGUF, None, "unsloth.F16.gguf", "gguf", "unsloth.F16.gguf", None),
    (F16_ONLY, None, None, "gguf", "unsloth.F16.gguf", None),
    (NO_Q4_K_M, None, None, "gguf", "model-Q5_K_M.gguf", "the smallest file"),
    (SPLIT, None, None, "gguf", "big-Q4_K_M-00001-of-00002.gguf", "also here: Q2_K"),
    (SPLIT, None, "big-Q4_K_M-00002-of-00002.gguf", "gguf", "big-Q4_K_M-00001-of-00002.gguf", None),
    (CONFIG_BUT_GGUF_WEIGHTS, None, None, "gguf", "Llama-3.2-3B-Instruct-Q4_K_M.gguf", "IQ4_XS"),
    (CONFIG_BUT_GGUF_WEIGHTS, "IQ4_XS", None, "gguf", "Llama-3.2-3B-Instruct-IQ4_XS.gguf", None),
])
def test_a_repo_resolves_by_what_it_holds(sizes, quant, file, kind, picked, notice):
    choice = choose_from_files(listing(sizes), quant=quant, file=file)
    assert (choice.kind, choice.file) == (kind, picked)
    assert choice.revision == "a" * 40
    if notice:
        assert any(notice in n for n in choice.notices), choice.notices
    else:
        assert not choice.notices


def test_a_split_file_is_every_part_and_a_projector_is_never_a_model():
    choice = choose_from_files(listing(SPLIT))
    assert choice.parts == ("big-Q4_K_M-00001-of-00002.gguf", "big-Q4_K_M-00002-of-00002.gguf")
    assert "mmproj" not in " ".join(choice.notices)


@pytest.mark.parametrize("sizes, quant, file, says", [
    (UNSLOTH_GGUF, "Q3_K_S", None, "quantizations found: F16, Q4_K_M, Q8_0 (name one as org/repo:F16)"),
    (UNSLOTH_GGUF, None, "unsloth.Q2_K.gguf", "GGUF files: unsloth.F16.gguf, unsloth.Q4_K_M.gguf"),
    (MERGED, "Q4_K_M", None, "holds no GGUF files, so ':Q4_K_M' picks nothing: it is a transformers model"),
    (ADAPTER, "Q4_K_M", None, "it is a LoRA adapter"),
    (NOTHING, None, None, "holds no model this app can load: it holds .gitattributes, README.md"),
])
def test_what_cannot_be_resolved_says_what_was_found_and_the_fix(sizes, quant, file, says):
    with pytest.raises(ModelSpecError, match="") as raised:
        choose_from_files(listing(sizes), quant=quant, file=file)
    assert says in str(raised.value)


@pytest.mark.parametrize("sizes, file, picked, error", [
    ({"adapter.gguf": 50 * MB}, None, "adapter.gguf", None),
    ({"model-lora-f16.gguf": 50 * MB, "model-Q4_K_M.gguf": 2_000 * MB}, None, "model-lora-f16.gguf", None),
    ({"a.gguf": 1, "b.gguf": 1}, None, None, "name the LoRA as org/repo/FILE"),
    ({"a.gguf": 1, "b.gguf": 1}, "b.gguf", "b.gguf", None),
    (ADAPTER, None, None, "holds no GGUF file, and a llama.cpp base takes its adapter as a GGUF LoRA"),
])
def test_a_gguf_lora_repo_gives_its_lora_file(sizes, file, picked, error):
    if error:
        with pytest.raises(ModelSpecError) as raised:
            choose_gguf_lora(listing(sizes), file=file)
        assert error in str(raised.value)
    else:
        assert choose_gguf_lora(listing(sizes), file=file).file == picked


@pytest.mark.parametrize("text, parts", [
    ("forestav/LoRA-2000", ("forestav/LoRA-2000", None, None)),
    ("unsloth/Llama-3.2-3B-Instruct-GGUF:Q4_K_M", ("unsloth/Llama-3.2-3B-Instruct-GGUF", "Q4_K_M", None)),
    ("hf.co/unsloth/Llama-3.2-3B-Instruct-GGUF:Q4_K_M", ("unsloth/Llama-3.2-3B-Instruct-GGUF", "Q4_K_M", None)),
    ("hf.co/unsloth/Llama-3.2-3B-Instruct-GGUF:latest", ("unsloth/Llama-3.2-3B-Instruct-GGUF", None, None)),
    ("https://huggingface.co/org/repo", ("org/repo", None, None)),
    ("org/repo/unsloth.F16.gguf", ("org/repo", None, "unsloth.F16.gguf")),
    ("org/repo/sub/dir/x-Q8_0.gguf", ("org/repo", None, "sub/dir/x-Q8_0.gguf")),
    ("adapters/model.gguf", None),  # a local file's path, missing or not
    ("./org/repo", None),
    ("/abs/path", None),
    ("smollm2-135m", None),
    ("org/repo:Q4:K", None),
    ("openai:gpt@http://x", None),
])
def test_hub_references(text, parts):
    assert split_hub_reference(text) == parts


@pytest.mark.parametrize("name, quant", [
    ("unsloth.Q4_K_M.gguf", "Q4_K_M"), ("Llama-3.2-3B-Instruct-Q4_K_M.gguf", "Q4_K_M"), ("model-iq4_xs.gguf", "IQ4_XS"),
    ("ggml-model-f16.gguf", "F16"), ("x.BF16.gguf", "BF16"), ("Qwen3-8B-UD-Q4_K_XL.gguf", "UD-Q4_K_XL"),
    ("big-Q4_K_M-00001-of-00002.gguf", "Q4_K_M"), ("adapter.gguf", None),
])
def test_quantization_tags_are_read_from_file_names(name, quant):
    assert quant_of(name) == quant


@pytest.mark.parametrize("repo, twin", [
    ("unsloth/llama-3.2-3b-instruct-bnb-4bit", "unsloth/llama-3.2-3b-instruct"),
    ("unsloth/Qwen2.5-7B-Instruct-unsloth-bnb-4bit", "unsloth/Qwen2.5-7B-Instruct"),
    ("unsloth/Llama-3.2-3B-Instruct", None),
    ("meta-llama/Llama-3.2-3B-Instruct", None),
])
def test_the_full_precision_twin_of_a_4bit_base(repo, twin):
    assert full_precision_twin(repo) == twin
