"""One registry from spec string to loaded backend, cached in-process so that no request reloads a model."""
from __future__ import annotations

import threading

from models.backend import Backend
from models.spec import ModelSpec, parse_model_spec

_LOADED: dict[str, Backend] = {}
_LOAD_LOCK = threading.Lock()


def load_model(spec: str | ModelSpec) -> Backend:
    """The backend for `spec`, loading it on first use and reusing it afterwards."""
    parsed = spec if isinstance(spec, ModelSpec) else parse_model_spec(spec)
    with _LOAD_LOCK:
        if parsed.text not in _LOADED:
            _LOADED[parsed.text] = _load(parsed)
        return _LOADED[parsed.text]


def _load(spec: ModelSpec) -> Backend:
    # Backends import their heavy libraries lazily: the llama.cpp one must not need torch, nor the reverse.
    if spec.backend == "llamacpp":
        from models.llamacpp_backend import load_llamacpp_backend

        return load_llamacpp_backend(spec)
    from models.hf_backend import load_transformers_backend

    return load_transformers_backend(spec)


def loaded_models() -> list[str]:
    return list(_LOADED)


def unload_all() -> None:
    with _LOAD_LOCK:
        _LOADED.clear()
