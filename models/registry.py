"""One registry of backends (name -> factory, imported on first use) and one in-process cache of loaded models.

A backend's heavy library is imported only when a model of its kind loads: the llama.cpp backend must not need
torch, nor the reverse. A new backend is one file in models/backends/ and a line in BACKENDS and in BACKEND_CLASSES.
"""
from __future__ import annotations

import importlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from models.backend import Backend, Capabilities
from models.errors import ModelSpecError, SettingsError
from models.spec import HEAD_PREFIX, ModelSpec, parse_model_spec

# backend name -> "module:function" that turns a ModelSpec into a loaded Backend.
BACKENDS: dict[str, str] = {
    "transformers": "models.backends.hf:load_transformers_backend",
    "llamacpp": "models.backends.llamacpp:load_llamacpp_backend",
    "scripted": "models.backends.scripted:load_scripted_backend",
    "openai": "models.backends.openai_compat:load_openai_backend",
    "head": "models.backends.head:load_head_backend",
    "reward": "models.backends.reward_model:load_reward_backend",
}

# backend name -> "module:Class" whose class-level `capabilities` say what its models can do before one loads. A served
# model's are probed when it loads (models/backends/openai_compat.py): its class declares the defaults.
BACKEND_CLASSES: dict[str, str] = {
    "transformers": "models.backends.hf:TransformersBackend",
    "llamacpp": "models.backends.llamacpp:LlamaCppBackend",
    "scripted": "models.backends.scripted:ScriptedBackend",
    "openai": "models.backends.openai_compat:OpenAIBackend",
    "head": "models.backends.head:HeadBackend",
    "reward": "models.backends.reward_model:RewardModelBackend",
}
PROBED_BACKENDS = frozenset({"openai"})  # what these can do is known only once the server has answered

_LOADED: OrderedDict[str, Backend] = OrderedDict()  # least recently used first
_STAMPS: dict[str, tuple] = {}  # spec -> its local files' stamp when it loaded
_LOAD_LOCK = threading.RLock()  # re-entrant: a scoring judge loads its base model while it loads
_MAX_LOADED: list[int | None] = [None]  # 0 = no limit; None: $LLM_JUDGE_MAX_MODELS, read when first needed


def backend_factory(name: str) -> Callable[[ModelSpec], Backend]:
    """The loader registered under `name`, imported now."""
    if name not in BACKENDS:
        raise ModelSpecError(f"no backend named {name!r}; known backends: {', '.join(BACKENDS)}")
    module, _, function = BACKENDS[name].partition(":")
    return getattr(importlib.import_module(module), function)


def declared_capabilities(spec: str | ModelSpec) -> Capabilities:
    """What the backend that would serve `spec` declares it can do, without loading the model (a settings page asks
    this while a person picks one); ModelSpecError for a spec that names nothing."""
    parsed = spec if isinstance(spec, ModelSpec) else parse_model_spec(spec)
    if parsed.backend not in BACKEND_CLASSES:
        raise ModelSpecError(f"no backend named {parsed.backend!r}; known backends: {', '.join(BACKEND_CLASSES)}")
    module, _, name = BACKEND_CLASSES[parsed.backend].partition(":")
    return getattr(importlib.import_module(module), name).capabilities


def load_model(spec: str | ModelSpec) -> Backend:
    """The backend for `spec`, loading it on first use and reusing it afterwards."""
    parsed = spec if isinstance(spec, ModelSpec) else parse_model_spec(spec)
    with _LOAD_LOCK:
        max_loaded()  # a bad $LLM_JUDGE_MAX_MODELS is said before anything loads
        stamp = local_files_stamp(parsed)
        if parsed.text in _LOADED and _STAMPS.get(parsed.text) == stamp:
            _LOADED.move_to_end(parsed.text)
            return _LOADED[parsed.text]
        backend = backend_factory(parsed.backend)(parsed)
        _LOADED[parsed.text], _STAMPS[parsed.text] = backend, stamp
        _LOADED.move_to_end(parsed.text)
        _evict_beyond_limit()
        return backend


def local_files_stamp(spec: ModelSpec) -> tuple:
    """Name, size and modification time of the local files a head or adapter folder (or a GGUF file) holds: one
    retrained in place (a recipe rewriting a head, a training run saving over its adapter) is loaded again, not
    served from memory as it was. A few stat calls; base weights folders are not walked."""
    paths: list[Path] = []
    if spec.base_kind == "head":
        paths += Path(spec.base[len(HEAD_PREFIX):]).glob("*")
    elif spec.base_kind == "gguf":
        paths.append(Path(spec.base))
    if spec.adapter_kind == "local":
        paths += Path(spec.adapter).glob("*")
    elif spec.adapter_kind == "gguf-lora":
        paths.append(Path(spec.adapter))
    stamp = []
    for path in sorted(paths):
        try:
            found = path.stat()
        except OSError:  # gone: the load itself says what is missing
            continue
        stamp.append((path.name, found.st_size, found.st_mtime_ns))
    return tuple(stamp)


def set_max_loaded(limit: int) -> None:
    """Keep at most `limit` models loaded (0: no limit); the least recently used go first. A model being used by a
    request when it is dropped finishes that request: it is freed once nothing holds it."""
    if limit < 0:
        raise ModelSpecError(f"the number of models kept loaded must be 0 (no limit) or more, got {limit}")
    with _LOAD_LOCK:
        _MAX_LOADED[0] = limit
        _evict_beyond_limit()


def reset_max_loaded() -> None:
    """Back to $LLM_JUDGE_MAX_MODELS's limit (read at the next load), as a fresh process has it."""
    with _LOAD_LOCK:
        _MAX_LOADED[0] = None


def max_loaded() -> int:
    """The models kept loaded at most (0: no limit): set_max_loaded()'s, else $LLM_JUDGE_MAX_MODELS. Read here, not
    at import, so a bad value is a message when a model loads rather than a traceback from every import."""
    if _MAX_LOADED[0] is None:
        text = os.environ.get("LLM_JUDGE_MAX_MODELS", "").strip() or "0"
        if not (text.isascii() and text.isdigit()) or int(text) > 1000:
            raise SettingsError(f"$LLM_JUDGE_MAX_MODELS must be a whole number of models from 0 (no limit) to 1000, "
                                f"got {text[:40]!r}")
        _MAX_LOADED[0] = int(text)
    return _MAX_LOADED[0]


def _evict_beyond_limit() -> None:
    while max_loaded() and len(_LOADED) > max_loaded():
        _LOADED.popitem(last=False)


def loaded_models() -> list[str]:
    """Specs of the loaded models, least recently used first."""
    return list(_LOADED)


def unload_all() -> None:
    with _LOAD_LOCK:
        _LOADED.clear()
        _STAMPS.clear()
