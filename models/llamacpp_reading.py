"""A scoring judge's reading of answers on llama.cpp: every token's last hidden layer and log probability from one
decode of a prompt's answers together, the prompt's tokens decoded once for all of them.

models/reward_head.py turns what is read into features. Reading on llama.cpp keeps one model in memory when the
judge's base is the model that answered (the float32 GGUF `smollm2-135m-f32-gguf`, Model A by default), and needs no
transformers load. The context is the model's own (same weights, attention kernel and threads), with embeddings on and
no pooling: llama.cpp then hands back both the logits and the hidden layer of every token of a decode. The answers to
one prompt share its tokens (chat template, system prompt, the instruction): those are decoded once, tagged with
every answer's sequence id, and each answer's own tokens follow in the same batches.
"""
from __future__ import annotations

import ctypes
from collections.abc import Iterator

import numpy as np

from models.threads import fair_threads

MAX_SEQUENCES = 16  # answers read together; more only grows the logits buffer, not the speed
BATCH_TOKENS = 512  # tokens per llama_decode: the logits of a decode are batch x vocabulary floats


class LlamaCppReader:
    """A llama.cpp context for reading (hidden states and logits of every token) on a loaded LlamaCppBackend."""

    def __init__(self, backend, n_ctx: int):
        import llama_cpp
        from llama_cpp import _internals

        llm = backend.llm
        self.backend, self.n_ctx = backend, n_ctx
        params = llama_cpp.llama_context_params.from_buffer_copy(llm.context_params)
        params.n_ctx, params.n_seq_max = n_ctx, MAX_SEQUENCES
        params.n_batch = params.n_ubatch = BATCH_TOKENS
        params.embeddings = True
        params.pooling_type = llama_cpp.LLAMA_POOLING_TYPE_NONE  # every token's hidden layer, not a pooled vector
        params.kv_unified = True  # the shared prompt's cells serve every sequence tagged on them
        self.threads = fair_threads()
        params.n_threads = params.n_threads_batch = self.threads
        self.context = _internals.LlamaContext(model=llm._model, params=params, verbose=False)
        adapter = getattr(llm, "_lora_adapter", None)
        if adapter is not None:  # a GGUF LoRA on the base: the reading is the adapted model's, as its answers are
            adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(adapter)
            llama_cpp.llama_set_adapters_lora(self.context.ctx, adapters, 1, (ctypes.c_float * 1)(1.0))
        self.batch = llama_cpp.llama_batch_init(BATCH_TOKENS, 0, MAX_SEQUENCES)
        self.vocab = llama_cpp.llama_vocab_n_tokens(llm._model.vocab)
        self.width = llama_cpp.llama_model_n_embd(llm._model.model)

    def close(self) -> None:
        import llama_cpp

        if self.batch is not None:
            llama_cpp.llama_batch_free(self.batch)
            self.batch = None
        self.context.close()

    def read(self, sequences: list[list[int]]) -> list[tuple[np.ndarray, np.ndarray]]:
        """For each token list: (tokens, width) hidden layer and (tokens,) log probability of each token given those
        before it (0 for the first). The lists' common prefix is decoded once."""
        import llama_cpp

        shared = _common_prefix(sequences)
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(self.context.ctx), True)
        everyone = list(range(len(sequences)))
        hidden = [[] for _ in sequences]
        logits_before = [[] for _ in sequences]  # the logits row that predicts each token after the first
        entries = [(everyone, pos, token) for pos, token in enumerate(sequences[0][:shared])]
        entries += [([s], pos, seq[pos]) for s, seq in enumerate(sequences) for pos in range(shared, len(seq))]
        for start in range(0, len(entries), BATCH_TOKENS):
            chunk = entries[start:start + BATCH_TOKENS]
            rows, states = self._decode(chunk)
            lse = _logsumexp(rows)
            for slot, (owners, pos, _) in enumerate(chunk):
                for s in owners:
                    hidden[s].append(states[slot])
                    seq = sequences[s]
                    if pos + 1 < len(seq):
                        # the shared part's last row predicts each sequence's own first token
                        logits_before[s].append(rows[slot, seq[pos + 1]] - lse[slot])
        return [(np.stack(h), np.concatenate([[0.0], lp]).astype(np.float32)) for h, lp in zip(hidden, logits_before)]

    def _decode(self, entries: list[tuple]) -> tuple[np.ndarray, np.ndarray]:
        """One llama_decode of (sequence ids, position, token) entries; the (entries, vocab) logits and (entries,
        width) hidden rows; the logits are llama.cpp's own buffer, valid until the next decode."""
        import llama_cpp

        threads = fair_threads()  # the cores' fair share now: a generation may have started beside this reading
        if threads != self.threads:
            llama_cpp.llama_set_n_threads(self.context.ctx, threads, threads)
            self.threads = threads
        batch = self.batch
        for slot, (owners, pos, token) in enumerate(entries):
            batch.token[slot], batch.pos[slot], batch.n_seq_id[slot], batch.logits[slot] = token, pos, len(owners), True
            for k, s in enumerate(owners):
                batch.seq_id[slot][k] = s
        batch.n_tokens = len(entries)
        status = llama_cpp.llama_decode(self.context.ctx, batch)
        if status != 0:
            raise RuntimeError(f"llama_decode failed with status {status} while reading answers")
        n = len(entries)
        rows = np.ctypeslib.as_array(llama_cpp.llama_get_logits(self.context.ctx), shape=(n, self.vocab))
        states = np.ctypeslib.as_array(llama_cpp.llama_get_embeddings(self.context.ctx), shape=(n, self.width)).copy()
        return rows, states


def _common_prefix(sequences: list[list[int]]) -> int:
    """Tokens every sequence starts with, leaving each at least one of its own (its first token's log probability
    comes from the shared part's last row)."""
    if len(sequences) < 2:
        return 0
    n = min(len(s) for s in sequences) - 1
    first = sequences[0]
    for i in range(n):
        if any(s[i] != first[i] for s in sequences[1:]):
            return i
    return max(n, 0)


def _logsumexp(rows: np.ndarray) -> np.ndarray:
    import torch

    return torch.logsumexp(torch.from_numpy(rows), dim=-1).numpy()


def reader_for(backend, need: int) -> LlamaCppReader:
    """The backend's reading context, made (again) when the call needs more cells than it has."""
    reader = getattr(backend, "_reader", None)
    if reader is None or reader.n_ctx < need:
        if reader is not None:
            reader.close()
        n_ctx = max(4096, -(-need // 1024) * 1024)
        reader = LlamaCppReader(backend, n_ctx)
        backend._reader = reader
    return reader


def llamacpp_token_passes(backend, sequences: list[list[int]], batch_size: int = MAX_SEQUENCES
                          ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(hidden, log probabilities) of each token list, read `batch_size` lists at a time (they share their prefix:
    one prompt's answers)."""
    size = max(1, min(batch_size, MAX_SEQUENCES))
    for start in range(0, len(sequences), size):
        group = sequences[start:start + size]
        shared = _common_prefix(group)
        need = shared + sum(len(s) - shared for s in group) + 1
        yield from reader_for(backend, need).read(group)
