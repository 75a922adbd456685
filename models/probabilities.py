"""A model's token probabilities read instead of sampled: log P(continuation | prompt), by teacher forcing.

A judge's score is then an expected value over the scale's tokens (G-Eval; AlpacaEval's logprob judges) rather than
one sampled digit. Backends that can read next-token log-probabilities supply two things, `tokenize(text)` and
`next_logprobs(ids)`; everything else is here and shared.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

Tokenize = Callable[[str], list[int]]
NextLogprobs = Callable[[list[int]], np.ndarray]


def log_softmax(logits: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max()
    return shifted - math.log(float(np.exp(shifted).sum()))


def common_prefix_length(sequences: Sequence[Sequence[int]]) -> int:
    """How many leading tokens all sequences share."""
    shortest = min(len(s) for s in sequences)
    for index in range(shortest):
        if len({s[index] for s in sequences}) > 1:
            return index
    return shortest


def continuation_logprobs(tokenize: Tokenize, next_logprobs: NextLogprobs, text: str,
                          continuations: Sequence[str]) -> list[float]:
    """log P(c | text) for each continuation c: the sum of its tokens' log-probabilities, each given the ones before.

    `text + c` is tokenized whole, as the model would see it, so a space or a digit that merges across the boundary
    is scored as the merged token; the tokens every continuation shares are the context, not scored.
    """
    if not continuations:
        return []
    sequences = [tokenize(text + c) for c in continuations]
    if len({tuple(s) for s in sequences}) < len(sequences):
        raise ValueError(f"continuations {list(continuations)!r} tokenize to the same tokens: they cannot be told "
                         "apart")
    shared = min(common_prefix_length(sequences), min(len(s) for s in sequences) - 1)
    if shared < 1:
        raise ValueError("a continuation must follow some context")
    memo: dict[tuple, np.ndarray] = {}
    scores = []
    for sequence in sequences:
        total = 0.0
        for position in range(shared, len(sequence)):
            context = tuple(sequence[:position])
            if context not in memo:
                memo[context] = next_logprobs(list(context))
            total += float(memo[context][sequence[position]])
        scores.append(total)
    return scores
