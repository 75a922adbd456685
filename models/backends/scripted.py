"""The scripted backend: a model that replies with given texts, in turn. No weights, no randomness, instant.

It serves fast tests of the pipeline's logic and demos of the app where no model may load. Spec forms:
- `scripted:TEXT`: every reply is TEXT; `||` separates replies given in turn (cycling), and `\\n` is a newline,
  e.g. `scripted:Relevance: 4\\nCoherence: 3\\nCompleteness: 2\\nReasons: fine`.
- `scripted:@FILE`: the replies from a JSON file, a list of strings, given in turn (cycling); or an object
  `{"replies": [...], "context": N}` that also gives the model a context window of N tokens.

Every reply it gives is exactly one of the given texts, whatever it is asked: it never pretends to judge. Its tokens
are whitespace-separated words; its context window is unbounded unless its file names one, so tests can drive the
long-prompt checks (runs/preflight.py) without a real model.
"""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from models.backend import LENGTH, STOP, Backend, Capabilities, Generation, Message
from models.errors import ModelLoadError, ModelSpecError
from models.settings import SamplingSettings
from models.spec import SCRIPTED_PREFIX, ModelSpec

REPLY_SEPARATOR = "||"


def scripted_script(spec_text: str) -> tuple[list[str], int | None]:
    """(the replies a `scripted:` spec names, in order; its context window or None); a clear error for an empty or
    unreadable script."""
    body = spec_text[len(SCRIPTED_PREFIX):]
    if not body.startswith("@"):
        return scripted_replies(spec_text), None
    path = Path(body[1:]).expanduser()
    try:
        script = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ModelLoadError(f"scripted replies file {str(path)!r} cannot be read ({exc}): give a JSON file "
                             "holding a list of reply strings") from exc
    context = None
    if isinstance(script, dict):
        context = script.get("context")
        if context is not None and (not isinstance(context, int) or isinstance(context, bool) or context < 1):
            raise ModelLoadError(f"scripted replies file {str(path)!r}: context must be a whole number of tokens "
                                 f"(at least 1), got {context!r}")
        script = script.get("replies")
    if not isinstance(script, list) or not script or not all(isinstance(r, str) for r in script):
        raise ModelLoadError(f"scripted replies file {str(path)!r} must hold a non-empty JSON list of strings (or "
                             '{"replies": [...], "context": N})')
    return script, context


def scripted_replies(spec_text: str) -> list[str]:
    """The replies a `scripted:` spec names, in order; a clear error for an empty or unreadable script."""
    body = spec_text[len(SCRIPTED_PREFIX):]
    if body.startswith("@"):
        return scripted_script(spec_text)[0]
    replies = [part.replace("\\n", "\n") for part in body.split(REPLY_SEPARATOR)]
    if not any(reply.strip() for reply in replies):
        raise ModelSpecError("a scripted model needs its replies: write 'scripted:REPLY' or "
                             "'scripted:FIRST||SECOND' or 'scripted:@replies.json'")
    return replies


@dataclass
class ScriptedBackend(Backend):
    """Replies in turn from `replies`; `calls` keeps every conversation it was given, for tests to inspect."""

    replies: list[str] = field(default_factory=list)
    computes_on_this_cpu: ClassVar[bool] = False  # its replies cost nothing
    name: str = "scripted"
    context: int | None = None  # words in its context window; None = unbounded
    calls: list[list[Message]] = field(default_factory=list, repr=False)
    _next: int = 0

    capabilities: ClassVar[Capabilities] = Capabilities()

    def next_reply(self, messages: list[Message]) -> str:
        self.calls.append([dict(m) for m in messages])
        reply = self.replies[self._next % len(self.replies)]
        self._next += 1
        return reply

    def stream(self, messages: list[Message], settings: SamplingSettings) -> Iterator[str]:
        # Word by word, so that streaming consumers see partial text as they would from a real model; the
        # length limit cuts on the same whitespace-token count that count_tokens reports.
        every = self.next_reply(messages).split(" ")
        words = every[: settings.max_new_tokens]
        self.stream_end["finish_reason"] = LENGTH if len(every) > len(words) else STOP
        for index, word in enumerate(words):
            yield word if index == 0 else " " + word

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def context_length(self) -> int | None:
        return self.context

    def prompt_tokens(self, messages: list[Message]) -> int | None:
        return sum(self.count_tokens(m["content"]) for m in messages)

    def score(self, messages: list[Message], settings: SamplingSettings, grammar: str | None = None) -> Generation:
        started = time.perf_counter()
        with self.lock:
            text = self.next_reply(messages)
        return Generation(text=text, n_tokens=self.count_tokens(text), seconds=time.perf_counter() - started,
                          finish_reason=STOP)  # a judge's scripted reply is given whole, whatever the limit


def load_scripted_backend(spec: ModelSpec) -> ScriptedBackend:
    replies, context = scripted_script(spec.text)
    return ScriptedBackend(spec=spec, replies=replies, context=context)
