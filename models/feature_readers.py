"""Which weights a scoring head's features are read with (models/reward_head.py): float32, an int8 copy, or bfloat16
under CPU autocast, and whether this CPU reads bfloat16 natively.

A head is fit on features read one way; its meta.json says which (`"weights"`). A head fit on float32 features and
measured again reading bfloat16 ones (`"reads_bfloat16"` in its meta: the shipped default judge) reads bfloat16 where
the CPU multiplies it in hardware (Intel AMX), unless `$LLM_JUDGE_HEAD_BFLOAT16` is 0; elsewhere bfloat16 would be
emulated, many times slower, so it reads float32.
"""
from __future__ import annotations

import os
import threading

from models.errors import SettingsError

BFLOAT16_ENV = "LLM_JUDGE_HEAD_BFLOAT16"


def _on_cpu_transformers(backend) -> bool:
    return backend.name == "transformers" and getattr(backend, "device", None) == "cpu"


def _require_cpu_transformers(backend, weights: str) -> None:
    if not _on_cpu_transformers(backend):
        raise ValueError(f"{weights} reading needs a transformers base on the CPU, not {backend.spec.text} on "
                         f"{getattr(backend, 'device', backend.name)}")


def int8_reader(backend):
    """A copy of a transformers backend whose linear layers compute in int8 (torch's dynamic quantisation: weights
    int8, activations quantised per batch). A head fit on its features reads them about 2x faster on a CPU
    (benchmarks/judge_reading.py); they are not float32's features, so such a head says `"weights": "int8"` in its
    meta and is fit on them. The registry's backend (perhaps Model A) is left in float32."""
    import copy
    import dataclasses
    import warnings

    import torch

    _require_cpu_transformers(backend, "int8")
    with warnings.catch_warnings():  # torch.ao's deprecation notices: the kernels are what this measures
        warnings.simplefilter("ignore")
        model = torch.ao.quantization.quantize_dynamic(copy.deepcopy(backend.model), {torch.nn.Linear},
                                                       dtype=torch.qint8)
    return dataclasses.replace(backend, model=model, _probability_cache=([], None))


class _Bfloat16Forward:
    """A model whose forward pass runs under CPU autocast to bfloat16: matrix products in bfloat16, normalisation and
    softmax kept in float32 by autocast. Its linear layers hold their weights already cast (what autocast would cast
    on every pass: the same numbers bit for bit; a 60-token pass took half the time on one thread, a 600-token one
    0.8x); every other tensor is the float32 model's own, shared."""

    def __init__(self, model):
        self._float32 = model
        self._model = None
        self._lock = threading.Lock()

    def _twin(self):
        """Made at the first reading, not at load, so in the thread that reads: made at load, before the study's
        first llama.cpp generation, that generation took ~40% longer (benchmarks/study_speed.py), because torch
        computing in one thread and llama.cpp in another slows both (benchmarks/torch_before_llamacpp.py: 0.78x;
        runs/one_thread.py keeps a run's steps in one thread)."""
        import copy

        import torch

        with self._lock:
            if self._model is None:
                model = self._float32
                shared = {id(tensor): tensor for tensor in (*model.parameters(), *model.buffers())}
                twin = copy.deepcopy(model, shared)  # new modules over the same tensors: the float32 model is kept
                for module in twin.modules():
                    if isinstance(module, torch.nn.Linear):  # a tied output layer gets its own copy
                        module.weight = torch.nn.Parameter(module.weight.detach().to(torch.bfloat16),
                                                           requires_grad=False)
                self._model = twin
            return self._model

    def __getattr__(self, name):
        return getattr(self._float32, name)  # its config, device and the like: the same as the twin's

    def __call__(self, *args, **kwargs):
        import torch

        model = self._twin()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return model(*args, **kwargs)


def bfloat16_reader(backend):
    """A transformers backend on the CPU whose reading computes in bfloat16 (autocast), sharing the registry's float32
    model but for a bfloat16 copy of its linear weights (2 bytes a parameter: 257 MB for the 135M model). Where the
    CPU multiplies bfloat16 natively (AMX) a whole pass takes about half the time of float32
    (benchmarks/judge_reading.py); elsewhere bfloat16 is emulated and far slower. Its features are not float32's (log
    probabilities move by ~0.04 nat on average), so a head reads them only when fit on them (`"weights": "bfloat16"`)
    or measured again reading them (`reads_bfloat16`)."""
    import dataclasses

    _require_cpu_transformers(backend, "bfloat16")
    return dataclasses.replace(backend, model=_Bfloat16Forward(backend.model), _probability_cache=([], None))


WEIGHTS = ("float32", "int8", "bfloat16")  # what a head's meta may name as the weights its features are read with


def feature_reader(base, weights: str = "float32"):
    """(the backend that reads a head's features, its FeatureCache key): the base itself, or for a head fit on int8
    or bfloat16 features the reader of those, cached under another key. The head backend and the recipe that fits
    heads read alike."""
    if weights == "int8":
        return int8_reader(base), f"{base.spec.text} int8"
    if weights == "bfloat16":
        return bfloat16_reader(base), f"{base.spec.text} bfloat16"
    if weights != "float32":
        raise ValueError(f"no reader for weights {weights!r}: its meta.json must name one of {', '.join(WEIGHTS)}")
    return base, base.spec.text


def native_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (Intel AMX tiles): there torch's bfloat16 matrix products ran
    5.7x float32's (a 600x576 by 576x1536 product, this project's 2-core machine), and a whole reading 1.9x with the
    weights cast once (0.76 against 1.44 s a pair; 1.6x casting them on every pass)."""
    import torch

    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)  # private in torch 2.x: absent means unknown, so no
    try:
        return bool(probe and probe())
    except (RuntimeError, AttributeError):
        return False


def reads_bfloat16(head_meta: dict, base) -> bool:
    """Whether a head whose meta is `head_meta` reads bfloat16 features from `base` here: it was measured reading them
    (`reads_bfloat16`), the base is transformers on the CPU, and the CPU is native (or $LLM_JUDGE_HEAD_BFLOAT16 is 1;
    0 keeps float32)."""
    wanted = os.environ.get(BFLOAT16_ENV, "").strip().lower()
    if wanted not in ("", "auto", "0", "1"):
        raise SettingsError(f"${BFLOAT16_ENV} must be auto (bfloat16 where the CPU has AMX, the default), 0 (always "
                            f"float32) or 1 (bfloat16 even where it is emulated), got {wanted!r}")
    if wanted == "0" or not head_meta.get("reads_bfloat16") or head_meta.get("weights", "float32") != "float32":
        return False
    return _on_cpu_transformers(base) and (wanted == "1" or native_bfloat16())
