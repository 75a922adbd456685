"""The one interface every generation backend implements (streamed and batched generation, the judge's scoring call,
reference perplexity) and the capabilities each backend declares."""
from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import ClassVar

from models.errors import ModelLoadError, SettingsError
from models.settings import MAX_SEED, SamplingSettings
from models.spec import ModelSpec

Message = dict  # {"role": "system" | "user" | "assistant", "content": str}

DEFAULT_BATCH_SIZE = 8  # conversations per forward pass in generate_batch; longer lists are split into chunks
# Why a generation ended: "stop" = the model ended its reply (an end-of-turn token, a grammar's end), "length" = it hit
# max_new_tokens and was cut off; None = the backend could not tell (generations recorded before finish reasons).
STOP, LENGTH = "stop", "length"


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do beyond plain generation; callers ask these instead of checking backend types."""

    streaming: bool = True  # yields text as it is generated (every backend here does)
    grammar: bool = False  # can hold a reply to a GBNF grammar (see judge/output_format.py)
    token_probabilities: bool = False  # can return the probabilities of candidate next tokens
    batched_generation: bool = False  # decodes several conversations in one pass (generate_batch is not a loop)
    perplexity: bool = False  # can score a given reply token by token (reference perplexity)
    # returns each generated token's most probable alternatives with a reply (served models): a judge's probabilities
    # are read from its own reply instead of by teacher forcing (judge/weighted.py)
    reply_probabilities: bool = False
    answer_scores: bool = False  # a scoring judge: scores answers per criterion directly, writes nothing
    # a reward model: its one score per answer is an unbounded Bradley-Terry reward, not a criterion on a scale
    # (judge/rewards.py maps it onto the template's scale and takes verdicts from the raw rewards)
    reward_model: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Generation:
    """A finished generation: the text and how long and how many tokens it took."""

    text: str
    n_tokens: int
    seconds: float
    first_token_seconds: float | None = None
    input_tokens: int | None = None  # prompt tokens, where the backend reports them (served models' usage)
    warnings: list[str] = field(default_factory=list)  # settings the backend could not apply, said aloud
    finish_reason: str | None = None  # STOP or LENGTH (cut off at max_new_tokens); None where unknown

    @property
    def tokens_per_second(self) -> float:
        return self.n_tokens / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "n_tokens": self.n_tokens,
            "seconds": round(self.seconds, 3),
            "first_token_seconds": None if self.first_token_seconds is None else round(self.first_token_seconds, 3),
            "tokens_per_second": round(self.tokens_per_second, 2),
            **({"input_tokens": self.input_tokens} if self.input_tokens is not None else {}),
            **({"warnings": list(self.warnings)} if self.warnings else {}),
            **({"finish_reason": self.finish_reason} if self.finish_reason else {}),
        }


@dataclass
class TokenChoice:
    """One generated token and the most probable alternatives at its position: {token text: logprob}."""

    token: str
    top: dict[str, float]


@dataclass
class Backend(ABC):
    """A loaded model. Calls are serialised by `lock`: one model, one generation at a time, so seeds hold."""

    spec: ModelSpec
    load_seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # Held for a whole reading of one prompt (many calls, each under `lock`): see one_reading().
    reading_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # What the stream running under `lock` found out when it ended ({"finish_reason": ...}): stream() yields text
    # only, so it leaves this here and generate() hands it on before it lets the lock go.
    stream_end: dict = field(default_factory=dict, repr=False)

    name: str = "backend"
    capabilities: ClassVar[Capabilities] = Capabilities()
    # The seeds this backend tells apart; a seed outside would be wrapped or refused by the library underneath, so
    # runs check the configured seeds against it before generating (runs/preflight.py).
    seed_range: ClassVar[tuple[int, int]] = (0, MAX_SEED)
    seed_range_note: ClassVar[str] = "64-bit seeds"

    @property
    def computes_on_this_cpu(self) -> bool:
        """Whether this model's work runs on this machine's CPU cores (not a GPU, not a server): two such stages run at
        the same time compete for the same cores (runs/pipeline.py answers ahead only where they do not)."""
        return True

    @abstractmethod
    def stream(self, messages: list[Message], settings: SamplingSettings) -> Iterator[str]:
        """Yield text pieces of the assistant's reply to `messages` (chat template applied)."""

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Tokens in `text` under this model's tokenizer."""

    def context_length(self) -> int | None:
        """Tokens the model reads and writes in one call (prompt and reply together); None where unknown, and then
        no prompt is checked against it."""
        return None

    def prompt_tokens(self, messages: list[Message]) -> int | None:
        """Tokens of `messages` as the model is given them (chat template applied); None where unknown."""
        return None

    def seed_problem(self, seed: int) -> str | None:
        """Why `seed` cannot be used here (it lies outside seed_range), or None."""
        low, high = self.seed_range
        if low <= seed <= high:
            return None
        return (f"seed {seed} is outside what the {self.name} backend takes ({self.seed_range_note}: {low} to "
                f"{high}); pick a seed from {low} to {high}")

    @contextmanager
    def one_reading(self) -> Iterator[None]:
        """Hold the model for one reading made of many calls on the same prompt (a judge's probabilities, choice after
        choice). A backend that keeps the prompt it read last (llama.cpp's KV cache) then reads only what follows it:
        interleaved with another thread's reading, each call read the whole prompt again (3.7x slower)."""
        with self.reading_lock:
            yield

    def generate(self, messages: list[Message], settings: SamplingSettings, outcome: dict | None = None
                 ) -> Iterator[str]:
        """Stream the reply while holding the model's lock, so concurrent requests cannot interleave seeds; a given
        `outcome` dict receives how the stream ended (its finish_reason, where the backend knows it)."""
        with self.lock:
            self.stream_end = {}
            yield from self.stream(messages, settings)
            if outcome is not None:
                outcome.update(self.stream_end)

    def generate_with_progress(self, messages: list[Message], settings: SamplingSettings) -> Iterator[str | Generation]:
        """Yield the reply text so far after each piece, then the finished Generation."""
        started = time.perf_counter()
        first = None
        text, outcome = "", {}
        for piece in self.generate(messages, settings, outcome):
            if first is None and piece:
                first = time.perf_counter() - started
            text += piece
            yield text
        seconds = time.perf_counter() - started
        # Streamed pieces are not tokens, so the text is counted again; a re-tokenised text can come out longer than
        # what was generated (50 for a cap of 48), and more than the cap was never generated.
        n_tokens = min(self.count_tokens(text), settings.max_new_tokens)
        yield Generation(text=text, n_tokens=n_tokens, seconds=seconds, first_token_seconds=first,
                         finish_reason=outcome.get("finish_reason"))

    def complete(self, messages: list[Message], settings: SamplingSettings) -> Generation:
        """Run a whole generation and return it."""
        *_, finished = self.generate_with_progress(messages, settings)
        return finished

    def generate_batch(
        self, conversations: list[list[Message]], settings: SamplingSettings, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> list[Generation]:
        """One finished Generation per conversation, in order.

        This default runs complete() on each conversation in turn (`batch_size` is checked but unused), so every
        reply is exactly what complete() gives for it, seed included. Backends that can decode several
        sequences in one pass override it.
        """
        check_batch_size(batch_size)
        return [self.complete(messages, settings) for messages in conversations]

    def perplexity(self, messages: list[Message], reference: str) -> float | None:
        """The model's perplexity on `reference` as the assistant's reply to `messages` (teacher forcing).

        exp(mean negative log-likelihood of the reference's tokens), each predicted from the chat-templated
        prompt and the reference tokens before it; the prompt itself is not scored. None where the backend
        cannot score tokens (this default) or the reference has no tokens.
        """
        return None

    @property
    def supports_grammar(self) -> bool:
        return self.capabilities.grammar

    def score(self, messages: list[Message], settings: SamplingSettings, grammar: str | None = None) -> Generation:
        """The judge's call: a whole reply to a grading prompt, constrained to `grammar` where supported."""
        return self.complete(messages, settings)

    def continuation_logprobs(self, messages: list[Message], prefix: str, continuations: list[str]) -> list[float]:
        """log P(prefix + c | messages) - log P(prefix | messages) for each c: how likely the assistant's reply, having
        begun with `prefix`, goes on with each continuation (see models/probabilities.py). Only backends that declare
        token_probabilities can; this default says so."""
        raise ModelLoadError(f"the {self.name} backend ({self.spec.text}) cannot read token probabilities: use the "
                             "parsed judge method with it, or a transformers or llama.cpp judge")

    def reply_with_probabilities(self, messages: list[Message], settings: SamplingSettings, grammar: str | None = None,
                                 top_logprobs: int = 20) -> tuple[str, list[TokenChoice], Generation]:
        """(reply, each token's alternatives, the Generation): only backends declaring reply_probabilities can."""
        raise ModelLoadError(f"the {self.name} backend ({self.spec.text}) returns no token probabilities with a "
                             "reply: use the parsed judge method with it")

    def describe(self) -> dict:
        return {"spec": self.spec.text, "backend": self.name, "load_seconds": round(self.load_seconds, 3),
                "capabilities": self.capabilities.to_dict(), **self.spec.hub_record()}


def in_chunks(conversations: list, batch_size: int, generate_chunk) -> list[Generation]:
    """generate_chunk(chunk) over the conversations in chunks of `batch_size`, the Generations in order."""
    check_batch_size(batch_size)
    generations: list[Generation] = []
    for start in range(0, len(conversations), batch_size):
        generations += generate_chunk(conversations[start:start + batch_size])
    return generations


def check_batch_size(batch_size: int) -> None:
    if batch_size < 1:
        raise SettingsError(f"batch_size must be at least 1, got {batch_size}")
