"""Where models compute: CUDA, llama.cpp's GPU offload, and the inference engine of transformers models.

Two settings, read per call from the environment: `$LLM_JUDGE_GPU_LAYERS` (the llama.cpp layers put on the GPU) and
`$LLM_JUDGE_INFERENCE_ENGINE` (auto | transformers | unsloth). The choices are pure functions of what is requested and
what is available, so they are tested as tables on machines without a GPU.
"""
from __future__ import annotations

import importlib.util
import os

from models.errors import ModelLoadError, SettingsError

GPU_LAYERS_ENV = "LLM_JUDGE_GPU_LAYERS"
INFERENCE_ENGINE_ENV = "LLM_JUDGE_INFERENCE_ENGINE"
ALL_LAYERS = -1  # llama.cpp's n_gpu_layers for "every layer"
INFERENCE_ENGINES = ("auto", "transformers", "unsloth")
DEFAULT_INFERENCE_ENGINE = "auto"
# `auto` picks Unsloth's fast inference only once a measured GPU run (benchmarks/gpu_paths.py, `greedy_equal`) has
# shown it gives the same greedy answers as transformers: a faster engine that changes the answers would change what
# a comparison measures. No GPU has been lent to this project yet, so it stays off until one is.
UNSLOTH_GREEDY_VERIFIED = False
GPU_INSTALL_HINT = "`pip install -r requirements-gpu.txt` on a CUDA machine"


def cuda_available() -> bool:
    """Whether torch sees a CUDA GPU."""
    import torch

    return torch.cuda.is_available()


def unsloth_installed() -> bool:
    """Whether Unsloth can be imported (without importing it: its import patches transformers)."""
    return importlib.util.find_spec("unsloth") is not None


def llama_supports_offload() -> bool:
    """Whether this llama-cpp-python build can put layers on a GPU (a CUDA, Metal, Vulkan ... build)."""
    import llama_cpp

    return bool(llama_cpp.llama_supports_gpu_offload())


MAX_LAYERS = 100_000  # more layers than any model has (more than that means all), and within llama.cpp's 32 bits


def parse_gpu_layers(text: str | None) -> int | None:
    """$LLM_JUDGE_GPU_LAYERS as a layer count (-1 = all, 0 = none, N = the first N), or None when it is not set."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        layers = int(text)
    except ValueError:
        layers = None
    if layers is None or not ALL_LAYERS <= layers <= MAX_LAYERS or not text.isascii():
        raise SettingsError(f"${GPU_LAYERS_ENV} must be a whole number of layers: -1 (all), 0 (none) or N "
                            f"(the first N), got {text!r}")
    return layers


def llama_gpu_layers(supports_offload: bool | None = None) -> int:
    """n_gpu_layers for llama.cpp: every layer where the build can offload (or $LLM_JUDGE_GPU_LAYERS), else 0. A
    build without offload computes on the CPU whatever the variable says, so 0 is what it reports."""
    configured = parse_gpu_layers(os.environ.get(GPU_LAYERS_ENV))  # a bad value is named even on a CPU build
    if not (llama_supports_offload() if supports_offload is None else supports_offload):
        return 0
    return ALL_LAYERS if configured is None else configured


def requested_inference_engine() -> str:
    """$LLM_JUDGE_INFERENCE_ENGINE, checked; `auto` when it is not set."""
    text = os.environ.get(INFERENCE_ENGINE_ENV, "").strip().lower()
    if not text:
        return DEFAULT_INFERENCE_ENGINE
    if text not in INFERENCE_ENGINES:
        raise SettingsError(f"${INFERENCE_ENGINE_ENV} must be one of {', '.join(INFERENCE_ENGINES)}, got {text!r}")
    return text


def choose_inference_engine(requested: str, cuda: bool, unsloth: bool,
                            verified: bool = UNSLOTH_GREEDY_VERIFIED) -> str:
    """The engine a transformers model runs on: 'transformers' or 'unsloth' (FastLanguageModel.for_inference).

    Like the training engine (finetune/train.py), `unsloth` asked for where it cannot run is an error, not a quiet
    fallback; unlike it, `auto` takes Unsloth only once `verified` (see UNSLOTH_GREEDY_VERIFIED)."""
    if requested not in INFERENCE_ENGINES:
        raise SettingsError(f"the inference engine must be one of {', '.join(INFERENCE_ENGINES)}, got {requested!r}")
    if requested == "unsloth":
        missing = [why for why, present in (("no CUDA GPU is visible", cuda), ("Unsloth is not installed", unsloth))
                   if not present]
        if missing:
            raise ModelLoadError(f"the Unsloth inference engine needs a CUDA GPU and Unsloth ({' and '.join(missing)}):"
                                 f" run {GPU_INSTALL_HINT}, or set {INFERENCE_ENGINE_ENV}=transformers (or auto)")
        return "unsloth"
    if requested == "auto" and verified and cuda and unsloth:
        return "unsloth"
    return "transformers"


def pick_inference_engine(requested: str | None = None, cuda: bool | None = None, unsloth: bool | None = None) -> str:
    """choose_inference_engine with what is not given read here: the environment, torch, the installed packages."""
    return choose_inference_engine(
        requested_inference_engine() if requested is None else requested,
        cuda_available() if cuda is None else cuda,
        unsloth_installed() if unsloth is None else unsloth,
    )
