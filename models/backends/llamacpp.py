"""llama.cpp backend (llama-cpp-python) for .gguf files: ~9x faster than transformers fp32 on these CPUs."""
from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from models.accelerators import ALL_LAYERS, llama_gpu_layers, llama_supports_offload
from models.backend import DEFAULT_BATCH_SIZE, LENGTH, STOP, Backend, Capabilities, Generation, Message, in_chunks
from models.embedded import EMBEDDED_MODELS, embedded_gguf_path, ensure_f32_gguf
from models.errors import ModelLoadError, SettingsError
from models.gguf_check import check_gguf
from models.hub_files import download
from models.llamacpp_buffers import llama_weight_buffers
from models.probabilities import common_prefix_length, continuation_logprobs, log_softmax
from models.settings import SamplingSettings
from models.spec import ModelSpec
from models.threads import fair_threads, generation_running

DEFAULT_CONTEXT = 4096
CONTEXT_ENV = "LLM_JUDGE_LLAMA_CONTEXT"
CONTEXT_RANGE = (256, 1_048_576)  # below a chat template and a short answer; above any GGUF's trained context


def llama_context() -> int:
    """n_ctx for a llama.cpp model: $LLM_JUDGE_LLAMA_CONTEXT tokens (0: the context the model was trained with,
    llama.cpp's own reading of 0), else DEFAULT_CONTEXT. Read at each load, so a bad value is said when a model loads.
    A longer context costs memory (its KV cache), a shorter one cuts or refuses long prompts sooner."""
    text = os.environ.get(CONTEXT_ENV, "").strip()
    if not text:
        return DEFAULT_CONTEXT
    low, high = CONTEXT_RANGE
    if not (text.isascii() and text.isdigit()) or (int(text) != 0 and not low <= int(text) <= high):
        raise SettingsError(f"${CONTEXT_ENV} must be a whole number of tokens from {low} to {high:,} (or 0: the "
                            f"model's trained context), got {text[:40]!r}; unset it for {DEFAULT_CONTEXT}")
    return int(text)


@dataclass
class LlamaCppBackend(Backend):
    """generate_batch decodes the conversations as parallel sequences in one llama.cpp context
    (models/backends/llamacpp_batch.py), each with the sampler chain the single-stream path uses."""

    llm: Any = None
    name: str = "llamacpp"
    _grammars: dict = field(default_factory=dict, repr=False)

    capabilities: ClassVar[Capabilities] = Capabilities(grammar=True, token_probabilities=True,
                                                        batched_generation=True, perplexity=True)
    # llama.cpp's seed is a uint32: 2**32 wraps to seed 0's answer, and 0xFFFFFFFF (LLAMA_DEFAULT_SEED) draws a random
    # seed, so only 0 .. 2**32 - 2 name a repeatable answer.
    seed_range: ClassVar[tuple[int, int]] = (0, 2**32 - 2)
    seed_range_note: ClassVar[str] = "32-bit seeds; 4294967295 means a random seed"
    _chat_formatter: Any = field(default=None, repr=False)
    _decoder: Any = field(default=None, repr=False)  # the ParallelDecoder of generate_batch, made on first use
    # n_gpu_layers the model was loaded with (-1: all) and whether this llama-cpp-python build can offload at all.
    # Offload is the model's: the batch decoder's context is made on the same model, so it computes there too.
    gpu_layers: int = 0
    offload: bool = False

    @property
    def computes_on_this_cpu(self) -> bool:
        """False only with every layer on the GPU (sampling stays on the CPU, but is a small part of a step)."""
        if not self.offload or self.gpu_layers == 0:
            return True
        return not (self.gpu_layers == ALL_LAYERS or self.gpu_layers >= self.layer_count())

    def layer_count(self) -> int:
        import llama_cpp

        return llama_cpp.llama_model_n_layer(self.llm._model.model)

    def describe(self) -> dict:
        return {**super().describe(), "gpu_layers": self.gpu_layers, "offload": self.offload}

    def stream(self, messages: list[Message], settings: SamplingSettings, grammar: str | None = None) -> Iterator[str]:
        with self._threads():
            yield from self._stream(messages, settings, grammar)

    @contextmanager
    def _threads(self, context=None):
        """Count this generation in (models/threads.py) and give llama.cpp its fair share of the cores."""
        import llama_cpp

        with generation_running() as threads:
            llama_cpp.llama_set_n_threads((context or self.llm._ctx).ctx, threads, threads)
            yield

    def _stream(self, messages: list[Message], settings: SamplingSettings, grammar: str | None) -> Iterator[str]:
        # The prompt is read afresh, in one batch: llama-cpp-python would reuse the KV cache of the last call, and
        # re-read a repeated prompt's last token alone, or a shared answer's tokens as they were generated, one at a
        # time, whose logits differ from a batch's (by up to 0.3 on the Q4_1 model): the same seed then gave another
        # answer on a second call. Reading a chat prompt again costs milliseconds beside generating its answer.
        self.llm.reset()
        chunks = self.llm.create_chat_completion(
            messages=messages,
            stream=True,
            max_tokens=settings.max_new_tokens,
            temperature=settings.temperature,  # 0 means greedy in llama.cpp too
            min_p=settings.min_p,
            top_p=settings.top_p,
            top_k=0,  # disabled, as in the transformers backend
            repeat_penalty=1.0,
            seed=settings.seed,
            grammar=self._grammar(grammar) if grammar else None,
        )
        for chunk in chunks:
            choice = chunk["choices"][0]
            if choice.get("finish_reason"):  # llama-cpp-python: "length" at max_tokens, else "stop"
                self.stream_end["finish_reason"] = LENGTH if choice["finish_reason"] == LENGTH else STOP
            piece = choice["delta"].get("content")
            if piece:
                yield piece

    def score(self, messages: list[Message], settings: SamplingSettings, grammar: str | None = None) -> Generation:
        started = time.perf_counter()
        with self.lock:
            text = "".join(self.stream(messages, settings, grammar=grammar))
        return Generation(text=text, n_tokens=self.count_tokens(text), seconds=time.perf_counter() - started)

    def generate_batch(self, conversations: list[list[Message]], settings: SamplingSettings,
                       batch_size: int = DEFAULT_BATCH_SIZE) -> list[Generation]:
        """One Generation per conversation; chunks of `batch_size` are decoded as parallel sequences. A reply is the
        one complete() gives for the same seed unless batched rounding flips a near-tie; `seconds` is the reply's
        share of its chunk's wall time in proportion to its tokens (rows finish together)."""
        return in_chunks(conversations, batch_size, lambda chunk: self._generate_chunk(chunk, settings))

    def _generate_chunk(self, conversations: list[list[Message]], settings: SamplingSettings) -> list[Generation]:
        from models.backends.llamacpp_batch import seq_context_for

        prompts = [self._token_ids(self._chat_prompt(messages)) for messages in conversations]
        seq_context = seq_context_for(max(map(len, prompts)), settings.max_new_tokens)
        with self.lock:
            decoder = self._decoder_for(len(prompts), seq_context)
            with self._threads(decoder.context):
                replies, seconds = decoder.generate(prompts, settings)
            reasons = list(decoder.finish_reasons)
        total = sum(len(r) for r in replies) or 1
        return [Generation(text=self.llm.detokenize(r).decode("utf-8", errors="ignore"), n_tokens=len(r),
                           seconds=seconds * len(r) / total, input_tokens=len(p), finish_reason=reason)
                for r, p, reason in zip(replies, prompts, reasons)]

    def _decoder_for(self, n_seq: int, seq_context: int):
        """The batch decoder, made (again) large enough for `n_seq` sequences of `seq_context` tokens. Hold the lock."""
        from models.backends.llamacpp_batch import ParallelDecoder

        decoder = self._decoder
        if decoder is None or decoder.n_seq < n_seq or decoder.seq_context < seq_context:
            if decoder is not None:
                decoder.close()
            decoder = self._decoder = ParallelDecoder(
                self.llm, max(n_seq, decoder.n_seq if decoder else 0),
                max(seq_context, decoder.seq_context if decoder else 0),
                self.llm.context_params.n_threads)
        return decoder

    def perplexity(self, messages: list[Message], reference: str) -> float | None:
        """exp(mean NLL) of the reference's tokens after the chat-templated prompt, as the transformers backend scores
        it: the reference tokenized on its own and appended, read in the batch decoder's context (which asks for the
        logits of the reference's positions only)."""
        import math

        from models.backends.llamacpp_batch import seq_context_for

        target = self.llm.tokenize(reference.encode("utf-8"), add_bos=False, special=False)
        if not target:
            return None
        prompt = self._token_ids(self._chat_prompt(messages))
        with self.lock, self._threads():
            decoder = self._decoder_for(1, seq_context_for(len(prompt) + len(target), 0))
            logprobs = decoder.logprobs_of(prompt + target, len(prompt))
        return math.exp(-sum(logprobs) / len(logprobs))

    def continuation_logprobs(self, messages: list[Message], prefix: str, continuations: list[str]) -> list[float]:
        text = self._chat_prompt(messages) + prefix
        with self.lock, self._threads():
            return continuation_logprobs(self._token_ids, self._next_logprobs, text, continuations)

    def context_length(self) -> int | None:
        return self.llm.n_ctx()

    def prompt_tokens(self, messages: list[Message]) -> int | None:
        if not self.llm.metadata.get("tokenizer.chat_template"):
            # llama-cpp-python then falls back to a generic chat format: count the texts and a few tokens per turn
            return sum(self.count_tokens(m["content"]) + 8 for m in messages)
        return len(self._token_ids(self._chat_prompt(messages)))

    def _chat_prompt(self, messages: list[Message]) -> str:
        """The prompt text the model's own chat template makes of `messages`, as create_chat_completion renders it."""
        if self._chat_formatter is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            template = self.llm.metadata.get("tokenizer.chat_template")
            if not template:
                raise ModelLoadError(f"{self.spec.text} has no chat template in its GGUF metadata, so its token "
                                     "probabilities cannot be read for a chat prompt: use the parsed judge method")
            vocab = self.llm._model
            self._chat_formatter = Jinja2ChatFormatter(
                template=template, eos_token=vocab.token_get_text(vocab.token_eos()),
                bos_token=vocab.token_get_text(vocab.token_bos()))
        return self._chat_formatter(messages=messages).prompt

    def _token_ids(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)

    def _next_logprobs(self, ids: list[int]):
        """Log-probabilities of the token after `ids`. llama.cpp keeps the KV cache of what it evaluated last: only
        the tokens after the shared prefix are evaluated, and never fewer than two, because a one-token decode rounds
        otherwise than a batch (models/llamacpp_buffers.py), which made a read depend on what was read before."""
        import numpy as np

        llm = self.llm
        evaluated = llm.input_ids[: llm.n_tokens].tolist()
        llm.n_tokens = max(0, min(common_prefix_length([ids, evaluated]), len(ids) - 2)) if evaluated else 0
        llm.eval(ids[llm.n_tokens:])  # drops the cache past n_tokens first
        logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),))
        return log_softmax(logits)

    def _grammar(self, gbnf: str):
        from llama_cpp import LlamaGrammar

        if gbnf not in self._grammars:  # compiling is cheap but not free; a run reuses one or two grammars
            self._grammars[gbnf] = LlamaGrammar.from_string(gbnf, verbose=False)
        return self._grammars[gbnf]

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))


def load_llamacpp_backend(spec: ModelSpec) -> LlamaCppBackend:
    try:
        from llama_cpp import Llama
    except ImportError as exc:
        raise ModelLoadError(
            "the llama.cpp backend needs llama-cpp-python: run `pip install llama-cpp-python`"
        ) from exc
    started = time.perf_counter()
    alias = spec.embedded_alias
    if alias:
        embedded = EMBEDDED_MODELS[alias]
        path = ensure_f32_gguf(embedded) if spec.float32_gguf else embedded_gguf_path(embedded)
    elif spec.base_kind == "hub-gguf":
        path = download(spec.base_hub)  # every part of a split file, into huggingface_hub's cache
    else:
        path = spec.base
    adapter = str(download(spec.adapter_hub)) if spec.adapter_kind == "hub-gguf-lora" else spec.adapter
    # llama.cpp's native parser takes the process down on a bad file: every file is checked in Python first.
    base = check_gguf(path, "base")
    if adapter:
        check_gguf(adapter, "adapter", base.get("general.architecture"))
    context = llama_context()
    offload = llama_supports_offload()
    gpu_layers = llama_gpu_layers(offload)  # all layers on the GPU where the build can (models/accelerators.py)
    try:
        with llama_weight_buffers():
            llm = Llama(
                model_path=str(path),
                n_ctx=context,
                n_threads=fair_threads(),  # set again per generation: models/threads.py
                n_gpu_layers=gpu_layers,
                lora_path=adapter,
                verbose=False,
            )
    except (ValueError, RuntimeError) as exc:
        raise ModelLoadError(f"llama.cpp could not load {path}: {exc}") from exc
    return LlamaCppBackend(spec=spec, llm=llm, gpu_layers=gpu_layers, offload=offload,
                           load_seconds=time.perf_counter() - started)
