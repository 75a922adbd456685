"""Where llama.cpp keeps a model's weights on the CPU: plain buffers unless `$LLM_JUDGE_LLAMA_EXTRA_BUFFERS` is 1.

llama.cpp may move CPU weights into "extra" buffer types at load time (Intel AMX tiles, repacked Q4_0/Q4_K rows):
faster prompt reading on some CPUs, but with their own matrix kernels for batches of two or more tokens. Measured on
this project's Sapphire Rapids machines (llama-cpp-python 0.3.36 built natively): with AMX buffers any decode of two
or more tokens on the Q4_1 model crashed the process (segmentation fault); on the CI machine of the same build the
batched kernels gave other numbers than the one-token ones, so a probability read depended on what had been read
before. Plain buffers give the same logits however a prompt is split into batches of two or more tokens, which the
KV-cache reuse of models/backends/llamacpp.py relies on. llama-cpp-python's Llama() takes no such argument, so the
model parameters' defaults are swapped while it loads.
"""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager

from models.errors import SettingsError

EXTRA_BUFFERS_ENV = "LLM_JUDGE_LLAMA_EXTRA_BUFFERS"
_LOADING = threading.Lock()  # the swapped default is module state: one load at a time


def extra_buffers_wanted() -> bool:
    """$LLM_JUDGE_LLAMA_EXTRA_BUFFERS: 1 keeps llama.cpp's extra CPU buffer types (faster on some CPUs, see above)."""
    text = os.environ.get(EXTRA_BUFFERS_ENV, "").strip()
    if text not in ("", "0", "1"):
        raise SettingsError(f"${EXTRA_BUFFERS_ENV} must be 0 (plain CPU buffers, the default) or 1 (llama.cpp's "
                            f"AMX / repacked buffers where the CPU has them), got {text!r}")
    return text == "1"


@contextmanager
def llama_weight_buffers():
    """Within this block, a llama_cpp.Llama() puts its CPU weights in plain buffers (unless extra ones are wanted)."""
    import llama_cpp.llama_cpp as bindings

    if extra_buffers_wanted():
        yield
        return
    with _LOADING:
        default = bindings.llama_model_default_params

        def plain_buffers():
            params = default()
            params.use_extra_bufts = False
            return params

        bindings.llama_model_default_params = plain_buffers
        try:
            yield
        finally:
            bindings.llama_model_default_params = default
