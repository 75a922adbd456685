"""transformers + PEFT backend: embedded, local and hub models, with an optional LoRA adapter; CPU or CUDA."""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

from models.backend import Backend, Message
from models.embedded import EMBEDDED_MODELS, ensure_converted
from models.errors import ModelLoadError, ModelSpecError
from models.settings import SamplingSettings
from models.spec import ModelSpec


@dataclass
class TransformersBackend(Backend):
    model: Any = None
    tokenizer: Any = None
    device: str = "cpu"
    name: str = "transformers"

    def stream(self, messages: list[Message], settings: SamplingSettings) -> Iterator[str]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        inputs = self.encode_chat(messages)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        cancelled = threading.Event()

        class StopWhenCancelled(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                return cancelled.is_set()

        kwargs = dict(
            **inputs,
            **generation_kwargs(settings),
            streamer=streamer,
            stopping_criteria=StoppingCriteriaList([StopWhenCancelled()]),
            pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
        )
        failure: list[BaseException] = []

        def run() -> None:
            try:
                torch.manual_seed(settings.seed)
                with torch.inference_mode():
                    self.model.generate(**kwargs)
            except BaseException as exc:  # surfaced in the consumer's thread below
                failure.append(exc)
                streamer.end()

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        try:
            for piece in streamer:
                if piece:
                    yield piece
        finally:
            # The consumer may stop early (a cancelled request): stop generating instead of running on.
            cancelled.set()
            worker.join()
        if failure:
            raise failure[0]

    def encode_chat(self, messages: list[Message]) -> dict:
        encoded = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        return {k: v.to(self.device) for k, v in encoded.items()}

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def describe(self) -> dict:
        return {**super().describe(), "device": self.device, "dtype": str(self.model.dtype).replace("torch.", "")}


def generation_kwargs(settings: SamplingSettings) -> dict:
    """generate() arguments for the settings; top_k is disabled so that only min_p / top_p truncate."""
    kwargs: dict = {"max_new_tokens": settings.max_new_tokens}
    if settings.greedy:
        kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None, min_p=None)
    else:
        kwargs.update(
            do_sample=True,
            temperature=settings.temperature,
            top_p=settings.top_p,
            top_k=0,
            min_p=settings.min_p or None,
        )
    return kwargs


def load_transformers_backend(spec: ModelSpec) -> TransformersBackend:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.perf_counter()
    if spec.base_kind == "embedded":
        source = str(ensure_converted(EMBEDDED_MODELS[spec.base]))
    else:
        source = spec.base
    device = "cuda" if torch.cuda.is_available() else "cpu"
    # Full precision on CPU: these CPUs have no native bf16 and emulating it is many times slower.
    dtype = torch.float32 if device == "cpu" else (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype)
    except OSError as exc:
        raise ModelLoadError(_explain_load_failure(spec, exc)) from exc
    model.to(device)
    if spec.adapter:
        model = _attach_adapter(model, spec)
    model.eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return TransformersBackend(
        spec=spec, model=model, tokenizer=tokenizer, device=device, load_seconds=time.perf_counter() - started
    )


def _attach_adapter(model, spec: ModelSpec):
    from peft import PeftModel

    try:
        return PeftModel.from_pretrained(model, spec.adapter, is_trainable=False)
    except RuntimeError as exc:
        if "size mismatch" in str(exc):
            raise ModelSpecError(
                f"adapter {spec.adapter!r} does not fit base {spec.base!r} (its weight shapes differ): "
                "it was trained on another base model; pair it with that base"
            ) from exc
        raise
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"could not load adapter {spec.adapter!r}: {exc}") from exc


def _explain_load_failure(spec: ModelSpec, exc: OSError) -> str:
    if spec.base_kind == "hub":
        from huggingface_hub import constants

        offline = constants.HF_HUB_OFFLINE
        return (
            f"could not load hub model {spec.base!r}: it is not in the local Hugging Face cache and "
            f"{'offline mode (HF_HUB_OFFLINE) forbids downloading' if offline else 'it could not be downloaded (no network?)'}. "
            "Download it on a connected machine (huggingface-cli download), pass a local folder, "
            "or use the embedded 'smollm2-135m'."
        )
    return f"could not load model {spec.base!r}: {exc}"
