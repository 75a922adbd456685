"""Grammar-constrained generation for transformers models: a GBNF grammar (judge/output_format.py writes one per
judge template) enforced token by token with llguidance, as a logits processor for model.generate().

llguidance was chosen by measurement (benchmarks/constrained_generation.py): its per-token mask costs next to
nothing beside a forward pass on a 2-core CPU and it adds no Python dependency; xgrammar is as fast but pulls in
triton, and transformers-cfg does not support transformers 5's tokenizers.
"""
from __future__ import annotations

import threading
from typing import Any


class GrammarError(ValueError):
    """A grammar llguidance cannot compile (a mistake in the grammar, not in the model's reply)."""


class TokenizerGrammars:
    """llguidance's view of one tokenizer, and the grammars compiled for it.

    Building the view reads the whole vocabulary (~0.4 s for a 49k-token vocabulary), so a backend keeps one;
    compiled grammars are kept too, since a run reuses one or two for every judge call.
    """

    def __init__(self, tokenizer: Any, eos_ids: set[int]):
        import llguidance.hf
        import torch

        # Every id that ends generation must count as the grammar's end: the generation config may list more
        # end-of-turn tokens than the tokenizer's eos_token, and whichever the model picks, the grammar must allow.
        self.tokenizer = llguidance.hf.from_tokenizer(tokenizer, eos_token=sorted(eos_ids))
        self.end_id = tokenizer.eos_token_id if tokenizer.eos_token_id in eos_ids else min(eos_ids)
        self.line_breaks = torch.tensor([self.tokenizer.decode_bytes([i]).startswith(b"\n")
                                         for i in range(self.tokenizer.vocab_size)], dtype=torch.bool)
        self._compiled: dict[str, str] = {}
        self._lock = threading.Lock()

    def processor(self, gbnf: str) -> GrammarLogitsProcessor:
        """A fresh processor for one generate() call (a matcher follows one reply only)."""
        import llguidance

        with self._lock:
            if gbnf not in self._compiled:
                try:
                    compiled = llguidance.grammar_from("gbnf", gbnf)
                except ValueError as exc:
                    raise GrammarError(f"could not compile the grammar: {exc}") from exc
                error = llguidance.LLMatcher.validate_grammar(compiled, self.tokenizer)
                if error:
                    raise GrammarError(f"could not compile the grammar: {error}")
                self._compiled[gbnf] = compiled
        matcher = llguidance.LLMatcher(self.tokenizer, self._compiled[gbnf], log_level=0)
        return GrammarLogitsProcessor(matcher, self.end_id, self.line_breaks)


class GrammarLogitsProcessor:
    """Masks every token the grammar does not allow next; a transformers LogitsProcessor by shape.

    generate() calls it once per step with every token so far, the prompt included; the tokens after the prompt
    that the matcher has not seen yet are fed to it first. generate() applies custom processors before the
    temperature / min_p / top_p warpers, so sampling only ever chooses among allowed tokens.

    Ending: once the reply is complete under the grammar, the end-of-turn token is allowed (and is all that is
    allowed where the grammar can go no further). A one-line free-text slot such as `[^\\n]+` would otherwise run
    to max_new_tokens whenever the model wants a line break there, which the grammar refuses: the model goes on
    writing on the same line. So, in a complete reply, the logits of the line-break tokens the grammar refuses are
    folded into the end-of-turn token's (log-sum-exp): ending the line ends the reply. max_new_tokens still caps it.
    """

    def __init__(self, matcher: Any, end_id: int, line_breaks):
        self.matcher = matcher
        self.end_id = end_id
        self.line_breaks = line_breaks
        self._prompt_length: int | None = None
        self._consumed = 0

    def __call__(self, input_ids, scores):
        import torch

        if input_ids.shape[0] != 1:
            raise ValueError(f"grammar-constrained generation decodes one reply at a time, got {input_ids.shape[0]}")
        if self._prompt_length is None:
            self._prompt_length = input_ids.shape[1]
        for token in input_ids[0, self._prompt_length + self._consumed:].tolist():
            self.matcher.consume_token(token)  # a refused token puts the matcher in its error state, checked next
            self._consumed += 1
        if self.matcher.is_error():
            raise GrammarError(f"the grammar matcher failed: {self.matcher.get_error()}")
        width = scores.shape[-1]
        bias = torch.frombuffer(bytearray(self.matcher.compute_logit_bias()), dtype=torch.uint8)  # 1 byte a token
        allowed = _fit(bias.bool(), width).to(scores.device)
        if self.matcher.is_accepting():
            refused_breaks = _fit(self.line_breaks, width).to(scores.device) & ~allowed
            if refused_breaks.any():
                scores = scores.clone()
                folded = torch.cat([scores[:, [self.end_id]], scores[:, refused_breaks]], dim=1)
                scores[:, self.end_id] = torch.logsumexp(folded, dim=1)
        return scores.masked_fill(~allowed, float("-inf"))

    def accepting(self) -> bool:
        """Whether the reply so far is a complete reply under the grammar."""
        return self.matcher.is_accepting()


def _fit(mask, width: int):
    """`mask` cut or padded with False to `width`: a model's logits may be padded past its tokenizer's vocabulary,
    and those ids are never allowed."""
    import torch

    fitted = torch.zeros(width, dtype=torch.bool)
    fitted[: min(width, mask.shape[0])] = mask[:width]
    return fitted
