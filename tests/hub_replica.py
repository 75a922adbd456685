"""A local Hugging Face cache in the hub's own layout (`models--org--name/blobs/`, `snapshots/<commit>/` links into
the blobs, `refs/main`), with repos made from the embedded model: what a user's cache holds after `hf download`, so
the real resolution, download and loading code runs with HF_HUB_OFFLINE=1 and only the network is missing."""
from __future__ import annotations

import ctypes
import hashlib
import json
import os
import shutil
from pathlib import Path

BNB_BASE = "unsloth/SmolLM2-135M-Instruct-bnb-4bit"  # what an Unsloth LoRA trained in 4-bit records as its base
TWIN_BASE = "unsloth/SmolLM2-135M-Instruct"  # its full-precision twin by Unsloth's naming
GGUF_REPO = "acme/SmolLM2-135M-Instruct-GGUF"  # several quantizations, as push_to_hub_gguf publishes them
MERGED_REPO = "acme/smollm2-135m-merged"  # a merged full model (config.json + safetensors)
ADAPTER_REPO = "acme/smollm2-135m-lora"  # push_to_hub of a LoRA folder on the 4-bit base
GGUF_LORA_REPO = "acme/smollm2-135m-lora-gguf"  # the same LoRA as a GGUF LoRA file
SEED_MODELS = ("forestav/LoRA-2000", "KolumbusLindh/LoRA-6150")  # the seed Space's pair: float16 GGUF files
QUANTS = {"Q4_K_M": 15, "Q8_0": 7, "F16": 1}  # llama.cpp's LLAMA_FTYPE_MOSTLY_* numbers


def add_repo(cache: Path, repo_id: str, files: dict[str, Path | bytes | str], commit: str | None = None) -> Path:
    """Put a repo into `cache` as huggingface_hub lays it out; file contents are bytes, text, or a file to link to.
    Returns the snapshot folder."""
    folder = cache / ("models--" + repo_id.replace("/", "--"))
    commit = commit or hashlib.sha1(repo_id.encode()).hexdigest()
    snapshot = folder / "snapshots" / commit
    (folder / "blobs").mkdir(parents=True, exist_ok=True)
    (folder / "refs").mkdir(exist_ok=True)
    for name, content in files.items():
        blob = folder / "blobs" / hashlib.sha256(f"{repo_id}/{name}".encode()).hexdigest()
        if isinstance(content, Path):
            if not blob.exists():
                os.symlink(content.resolve(), blob)  # big weights are linked, not copied
        else:
            blob.write_bytes(content.encode() if isinstance(content, str) else content)
        target = snapshot / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            os.symlink(os.path.relpath(blob, target.parent), target)
    (folder / "refs" / "main").write_text(commit, encoding="utf-8")
    return snapshot


def quantize(source: Path, target: Path, ftype: int) -> Path:
    """A real llama.cpp quantization of `source` (llama_model_quantize, as llama.cpp's quantize tool does)."""
    import llama_cpp
    from llama_cpp._utils import suppress_stdout_stderr

    if target.is_file():
        return target
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype, params.allow_requantize = ftype, True
    with suppress_stdout_stderr(disable=False):
        status = llama_cpp.llama_model_quantize(str(source).encode(), str(target).encode(), ctypes.byref(params))
    assert status == 0, f"quantize to ftype {ftype} failed with {status}"
    return target


def random_lora(folder: Path, base_recorded: str) -> Path:
    """A real PEFT LoRA for the embedded model with random B matrices (it changes the answers), recording
    `base_recorded` as its base, as Unsloth's push_to_hub writes it."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from models.embedded import EMBEDDED_MODELS, ensure_converted

    model = AutoModelForCausalLM.from_pretrained(str(ensure_converted(EMBEDDED_MODELS["smollm2-135m"])),
                                                 dtype=torch.float32)
    torch.manual_seed(0)
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                                  init_lora_weights=False))
    with torch.no_grad():  # large enough to change greedy answers, small enough to keep them fluent
        for name, weight in peft_model.named_parameters():
            if "lora_B" in name:
                weight.mul_(8.0)
    peft_model.save_pretrained(str(folder))
    config_path = folder / "adapter_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = base_recorded
    config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return folder


def build_replica(cache: Path, work: Path) -> dict[str, Path]:
    """Every kind of repo the resolution rules know, in `cache`; `work` holds the files they are made from."""
    from finetune.export import export_gguf_lora
    from models.embedded import EMBEDDED_MODELS, ensure_converted, ensure_f32_gguf

    model = EMBEDDED_MODELS["smollm2-135m"]
    work.mkdir(parents=True, exist_ok=True)
    f32 = ensure_f32_gguf(model)
    ggufs = {q: quantize(f32, work / f"unsloth.{q}.gguf", ftype) for q, ftype in QUANTS.items()}
    snapshots = {GGUF_REPO: add_repo(cache, GGUF_REPO, {**{p.name: p for p in ggufs.values()},
                                                        "README.md": "GGUF quantizations\n"})}
    for repo in SEED_MODELS:
        snapshots[repo] = add_repo(cache, repo, {"unsloth.F16.gguf": ggufs["F16"], "README.md": "LoRA fine-tune\n"})
    converted = ensure_converted(model)
    full = {p.name: p for p in converted.iterdir() if p.is_file()}
    full.pop("CONVERTED_FROM.txt", None)
    snapshots[MERGED_REPO] = add_repo(cache, MERGED_REPO, full)
    snapshots[TWIN_BASE] = add_repo(cache, TWIN_BASE, full)
    lora = random_lora(work / "lora", BNB_BASE)
    snapshots[ADAPTER_REPO] = add_repo(cache, ADAPTER_REPO, {p.name: p for p in lora.iterdir() if p.is_file()})
    config = json.loads((lora / "adapter_config.json").read_text(encoding="utf-8"))
    for repo, base in (("acme/lora-on-merged", MERGED_REPO), ("acme/lora-on-a-base-not-here", "/content/outputs/base"),
                       ("acme/lora-on-an-uncached-base", "meta-llama/Llama-3.2-3B-Instruct")):
        snapshots[repo] = add_repo(cache, repo, {"adapter_model.safetensors": lora / "adapter_model.safetensors",
                                                 "adapter_config.json": json.dumps({**config,
                                                                                    "base_model_name_or_path": base})})
    for_export = work / "lora-for-export"
    if not for_export.exists():
        shutil.copytree(lora, for_export)
        config = json.loads((for_export / "adapter_config.json").read_text(encoding="utf-8"))
        config["base_model_name_or_path"] = "smollm2-135m"  # the export reads the base's config from this machine
        (for_export / "adapter_config.json").write_text(json.dumps(config), encoding="utf-8")
    gguf_lora = export_gguf_lora(for_export, work / "smollm2-lora.gguf")
    snapshots[GGUF_LORA_REPO] = add_repo(cache, GGUF_LORA_REPO, {"smollm2-lora.gguf": gguf_lora,
                                                                 "README.md": "GGUF LoRA\n"})
    return snapshots
