"""Several conversations decoded together on one llama.cpp model: parallel sequences in one llama_decode per step.

One sequence at a time, decoding a 135M model on a CPU is bound by reading the weights for every token; with N
sequences in a step the weights are read once for N tokens. Each sequence gets its own sampler chain, built as
llama-cpp-python's create_completion builds it (top-k off, top-p, min-p, temperature, a seeded draw), so a
sequence's answer is the one the single-stream path gives for the same seed, as long as the logits are the same
(the batched matrix products may round differently in rare near-ties). The decoder keeps its own llama.cpp context
(its own KV cache) beside the model's, and applies the model's LoRA adapter to it.
"""
from __future__ import annotations

import ctypes
import time
from dataclasses import dataclass, field
from typing import Any

from models.settings import SamplingSettings
from models.threads import fair_threads

CONTEXT_STEP = 256  # per-sequence context sizes are rounded up to this, so a decoder is reused across calls


@dataclass
class _Sequence:
    prompt: list[int]
    sampler: Any
    tokens: list[int] = field(default_factory=list)
    done: bool = False
    finish_reason: str = "stop"  # "length" when it reached max_new_tokens without an end-of-generation token
    logits_index: int = -1  # the batch slot whose logits this sequence samples from next


def sampler_chain(settings: SamplingSettings):
    """The chain create_completion uses for these settings (repeat penalty 1.0 and typical 1.0 are no-ops there)."""
    from llama_cpp import _internals

    sampler = _internals.LlamaSampler()
    if settings.temperature == 0:
        sampler.add_greedy()
        return sampler
    sampler.add_top_k(0)
    sampler.add_typical(1.0, 1)
    sampler.add_top_p(settings.top_p, 1)
    sampler.add_min_p(settings.min_p, 1)
    sampler.add_temp(settings.temperature)
    sampler.add_dist(settings.seed)
    return sampler


class ParallelDecoder:
    """A llama.cpp context for up to `n_seq` sequences of up to `seq_context` tokens each, for one loaded Llama."""

    def __init__(self, llm, n_seq: int, seq_context: int, n_threads: int):
        import llama_cpp
        from llama_cpp import _internals

        self.llm, self.n_seq, self.seq_context = llm, n_seq, seq_context
        # The model's own context settings (attention kernel, KV types, threads...) so its logits come out the same.
        params = llama_cpp.llama_context_params.from_buffer_copy(llm.context_params)
        params.n_ctx = n_seq * seq_context
        params.n_batch = params.n_ubatch = max(512, n_seq)
        params.n_seq_max = n_seq
        params.n_threads = params.n_threads_batch = n_threads
        params.kv_unified = False  # each sequence attends to its own cells only: no shared prefix to gain from
        self.context = _internals.LlamaContext(model=llm._model, params=params, verbose=False)
        adapter = getattr(llm, "_lora_adapter", None)
        if adapter is not None:
            adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(adapter)
            scales = (ctypes.c_float * 1)(1.0)
            llama_cpp.llama_set_adapters_lora(self.context.ctx, adapters, 1, scales)
        self.n_batch, self.n_threads = params.n_batch, n_threads
        self.batch = llama_cpp.llama_batch_init(self.n_batch, 0, 1)
        self.finish_reasons: list[str] = []  # of the last generate(), per prompt: "stop" or "length"

    def close(self) -> None:
        import llama_cpp

        if self.batch is not None:
            llama_cpp.llama_batch_free(self.batch)
            self.batch = None
        self.context.close()

    def generate(self, prompts: list[list[int]], settings: SamplingSettings) -> tuple[list[list[int]], float]:
        """The generated token ids of each prompt (end-of-generation token excluded), and the wall seconds; why each
        ended is left in `finish_reasons`."""
        import llama_cpp

        started = time.perf_counter()
        if len(prompts) > self.n_seq or any(len(p) + settings.max_new_tokens > self.seq_context for p in prompts):
            raise ValueError("the prompts do not fit this decoder: make a larger one")
        llama_cpp.llama_memory_clear(self.context.memory, True)
        sequences = [_Sequence(prompt=p, sampler=sampler_chain(settings)) for p in prompts]
        # Prefill: every prompt's tokens but its last in as few batches as fit, then all the last tokens together,
        # so each sequence's logits are in the final batch (a later decode overwrites earlier batches' logits).
        pending = [(i, pos, tok, False, s) for i, s in enumerate(sequences) for pos, tok in enumerate(s.prompt[:-1])]
        for start in range(0, len(pending), self.n_batch):
            self._decode(pending[start:start + self.n_batch])
        self._decode([(i, len(s.prompt) - 1, s.prompt[-1], True, s) for i, s in enumerate(sequences)])
        while True:
            step = []
            for i, s in enumerate(sequences):
                if s.done:
                    continue
                token = s.sampler.sample(self.context, s.logits_index)
                if llama_cpp.llama_vocab_is_eog(self.llm._model.vocab, token):
                    s.done = True
                    continue
                s.tokens.append(token)
                if len(s.tokens) >= settings.max_new_tokens:
                    s.done, s.finish_reason = True, "length"
                    continue
                step.append((i, len(s.prompt) + len(s.tokens) - 1, token, True, s))
            if not step:
                break
            self._share_cores()
            self._decode(step)
        for s in sequences:
            s.sampler.close()
        self.finish_reasons = [s.finish_reason for s in sequences]
        return [s.tokens for s in sequences], time.perf_counter() - started

    def logprobs_of(self, ids: list[int], first: int) -> list[float]:
        """Log-probabilities of ids[first:], each given every token before it (teacher forcing, one sequence): only
        those positions' logits are asked for, so no logits are kept for the whole context."""
        import llama_cpp
        import numpy as np

        if len(ids) > self.seq_context or not 0 < first < len(ids):
            raise ValueError("the tokens do not fit this decoder, or none is scored")
        llama_cpp.llama_memory_clear(self.context.memory, True)
        vocab = llama_cpp.llama_vocab_n_tokens(self.llm._model.vocab)
        entries = [(0, pos, token, first - 1 <= pos < len(ids) - 1, None) for pos, token in enumerate(ids)]
        found = []
        for start in range(0, len(entries), self.n_batch):
            chunk = entries[start:start + self.n_batch]
            self._decode(chunk)
            for slot, (_, pos, _, wanted, _) in enumerate(chunk):
                if wanted:
                    row = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(self.context.ctx, slot), shape=(vocab,))
                    top = row.max()
                    found.append(float(row[ids[pos + 1]] - top - np.log(np.exp(row - top).sum())))
        return found

    def _share_cores(self) -> None:
        """Take this step's fair share of the cores: work that started after this batch (a judge reading features)
        gets its share too, instead of both spinning threads on the same cores (models/threads.py)."""
        import llama_cpp

        threads = fair_threads()
        if threads != self.n_threads:
            llama_cpp.llama_set_n_threads(self.context.ctx, threads, threads)
            self.n_threads = threads

    def _decode(self, entries: list[tuple]) -> None:
        """One llama_decode of (sequence id, position, token, wants logits, sequence) entries."""
        import llama_cpp

        batch = self.batch
        for slot, (seq_id, pos, token, wants_logits, sequence) in enumerate(entries):
            batch.token[slot] = token
            batch.pos[slot] = pos
            batch.n_seq_id[slot] = 1
            batch.seq_id[slot][0] = seq_id
            batch.logits[slot] = wants_logits
            if wants_logits and sequence is not None:
                sequence.logits_index = slot
        batch.n_tokens = len(entries)
        status = llama_cpp.llama_decode(self.context.ctx, batch)
        if status != 0:
            raise RuntimeError(f"llama_decode failed with status {status} (the KV cache is full or the batch bad)")


def seq_context_for(longest_prompt: int, max_new_tokens: int) -> int:
    """The per-sequence context a call needs, rounded up so that similar calls share one decoder."""
    need = longest_prompt + max_new_tokens + 1
    return -(-need // CONTEXT_STEP) * CONTEXT_STEP
