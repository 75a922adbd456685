"""The OpenAI-compatible HTTP backend: any server speaking the chat-completions protocol, through the official client.

What a server accepts is probed once at load, not assumed: `min_p` (vLLM, llama.cpp's server and SGLang take it;
`transformers serve` answers 422), token probabilities with a reply (`logprobs`), and GBNF grammars (llama.cpp's
server). A setting a server refuses is never dropped silently: each Generation says so in `warnings`. The client
retries 408/409/429/5xx and dropped connections with exponential backoff and jitter, honouring Retry-After; what
still fails raises EndpointError, which fails one record, not the run (runs/pipeline.py).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from models.backend import LENGTH, STOP, Backend, Capabilities, Generation, Message, TokenChoice
from models.endpoints import API_KEY_VARIABLES, EndpointError, EndpointLimits, api_key_for, redact, split_endpoint_spec
from models.errors import ModelLoadError
from models.settings import SamplingSettings
from models.spec import ModelSpec

TOP_LOGPROBS = 20  # the most the OpenAI protocol allows; enough to cover a 1-10 scale's digits
_SEMAPHORES: dict[str, threading.BoundedSemaphore] = {}
_SEMAPHORES_LOCK = threading.Lock()


def endpoint_semaphore(base_url: str, limit: int) -> threading.BoundedSemaphore:
    """One limit per endpoint, shared by every model spec served there (A, B and judge may share a server)."""
    with _SEMAPHORES_LOCK:
        if base_url not in _SEMAPHORES:
            _SEMAPHORES[base_url] = threading.BoundedSemaphore(limit)
        return _SEMAPHORES[base_url]


@dataclass
class OpenAIBackend(Backend):
    computes_on_this_cpu: ClassVar[bool] = False  # the server computes
    model: str = ""
    base_url: str = ""
    client: Any = None
    limits: EndpointLimits = field(default_factory=EndpointLimits)
    accepts: dict = field(default_factory=dict)  # min_p / logprobs / grammar -> what the probe found
    name: str = "openai"
    capabilities: Capabilities = field(default_factory=Capabilities)

    def generate(self, messages: list[Message], settings: SamplingSettings, outcome: dict | None = None
                 ) -> Iterator[str]:
        # No model lock: the server batches; the per-endpoint semaphore bounds what is in flight.
        found: dict = {}
        with endpoint_semaphore(self.base_url, self.limits.concurrency):
            yield from self._stream(messages, settings, found)
        if outcome is not None and found.get("finish_reason"):
            outcome["finish_reason"] = found["finish_reason"]

    def stream(self, messages: list[Message], settings: SamplingSettings) -> Iterator[str]:
        yield from self._stream(messages, settings, {})

    def _stream(self, messages, settings, usage: dict) -> Iterator[str]:
        chunks = self._create(messages, settings, stream=True, stream_options={"include_usage": True})
        finished = False
        try:
            for chunk in chunks:
                if getattr(chunk, "usage", None):
                    usage.update(input=chunk.usage.prompt_tokens, output=chunk.usage.completion_tokens)
                if chunk.choices:
                    if chunk.choices[0].finish_reason is not None:
                        finished = True
                        usage["finish_reason"] = finish_reason(chunk.choices[0].finish_reason)
                    piece = chunk.choices[0].delta.content
                    if piece:
                        usage["chunks"] = usage.get("chunks", 0) + 1
                        yield piece
        except Exception as exc:  # a connection dropped mid-reply: the client cannot retry half a stream
            raise self._error(exc) from exc
        if not finished:
            # e.g. llama-cpp-python's server cancels a stream when another request arrives (--interrupt_requests)
            raise EndpointError(f"{self.base_url} ended the reply stream before the reply finished (no finish "
                                "reason): the server cut it off; with llama-cpp-python's server, start it with "
                                "--interrupt_requests False")

    def generate_with_progress(self, messages: list[Message], settings: SamplingSettings) -> Iterator[str | Generation]:
        started, first, text, usage = time.perf_counter(), None, "", {}
        with endpoint_semaphore(self.base_url, self.limits.concurrency):
            for piece in self._stream(messages, settings, usage):
                if first is None:
                    first = time.perf_counter() - started
                text += piece
                yield text
        # Servers that send no usage in streams (llama.cpp's) send about one token per chunk.
        yield Generation(text=text, n_tokens=usage.get("output", usage.get("chunks", 0)),
                         seconds=time.perf_counter() - started, first_token_seconds=first,
                         input_tokens=usage.get("input"), warnings=self.warnings(settings),
                         finish_reason=usage.get("finish_reason"))

    def score(self, messages: list[Message], settings: SamplingSettings, grammar: str | None = None) -> Generation:
        return self.reply_with_probabilities(messages, settings, grammar, top_logprobs=0)[2]

    def reply_with_probabilities(self, messages: list[Message], settings: SamplingSettings, grammar: str | None = None,
                                 top_logprobs: int = TOP_LOGPROBS) -> tuple[str, list[TokenChoice], Generation]:
        """One whole reply (not streamed) and, where asked and the server returns them, each token's alternatives."""
        started = time.perf_counter()
        extra = {"logprobs": True, "top_logprobs": top_logprobs} if top_logprobs and self.accepts["logprobs"] else {}
        with endpoint_semaphore(self.base_url, self.limits.concurrency):
            response = self._create(messages, settings, grammar=grammar, **extra)
        choice = response.choices[0]
        text = choice.message.content or ""
        tokens = [TokenChoice(t.token, {alt.token: alt.logprob for alt in (t.top_logprobs or [])})
                  for t in ((choice.logprobs.content or []) if getattr(choice, "logprobs", None) else [])]
        usage = response.usage
        generation = Generation(text=text, n_tokens=usage.completion_tokens if usage else len(tokens),
                                seconds=time.perf_counter() - started,
                                input_tokens=usage.prompt_tokens if usage else None, warnings=self.warnings(settings),
                                finish_reason=finish_reason(choice.finish_reason))
        return text, tokens, generation

    # context_length / prompt_tokens stay unknown (None): the protocol reports neither, so long prompts are left to
    # the server, whose refusal fails that record only.
    # Seeds travel as JSON integers that servers read as signed 64-bit.
    seed_range: ClassVar[tuple[int, int]] = (0, 2**63 - 1)
    seed_range_note: ClassVar[str] = "servers read seeds as signed 64-bit integers"

    def count_tokens(self, text: str) -> int:
        """An estimate (no tokenizer here): about four characters per token."""
        return max(1, round(len(text) / 4)) if text else 0

    def warnings(self, settings: SamplingSettings) -> list[str]:
        if settings.min_p > 0 and not self.accepts["min_p"]:
            return [f"min_p={settings.min_p:g} not applied: {self.base_url} refuses the min_p field"]
        return []

    def _create(self, messages, settings: SamplingSettings, grammar: str | None = None, **extra):
        body = {}
        if settings.min_p > 0 and self.accepts.get("min_p", True):
            body["min_p"] = settings.min_p
        if grammar and self.accepts.get("grammar"):
            body["grammar"] = grammar
        try:
            return self.client.chat.completions.create(
                model=self.model, messages=messages, temperature=settings.temperature, top_p=settings.top_p,
                max_tokens=settings.max_new_tokens, seed=settings.seed, extra_body=body or None, **extra)
        except Exception as exc:
            if "min_p" in body and _refuses_field(exc, "min_p"):
                self.accepts["min_p"] = False  # reported in every Generation's warnings from now on
                return self._create(messages, settings, grammar, **extra)
            raise self._error(exc) from exc

    def _error(self, exc: Exception) -> EndpointError:
        return EndpointError(redact(endpoint_error_message(exc, self.model, self.base_url, self.limits), self.base_url))

    def describe(self) -> dict:
        return {**super().describe(), "capabilities": self.capabilities.to_dict(), "base_url": self.base_url,
                "model": self.model, "accepts": dict(self.accepts)}


def finish_reason(reported: str | None) -> str | None:
    """The server's finish_reason as a Generation's: "length" (cut off at max_tokens) stays, any other end ("stop",
    "eos", "tool_calls", ...) is STOP; None where the server sent none."""
    if not reported:
        return None
    return LENGTH if reported == LENGTH else STOP


def _refuses_field(exc: Exception, name: str) -> bool:
    import openai

    return isinstance(exc, (openai.BadRequestError, openai.UnprocessableEntityError)) and name in server_detail(exc)


def server_detail(exc: Exception) -> str:
    """The server's own words about a refused request (its JSON body's detail / message / error), else the error."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        for key in ("detail", "message", "error"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("message")
            if value:
                return str(value)
    if isinstance(body, str) and body.strip():
        return body.strip()[:300]
    return getattr(exc, "message", None) or str(exc)


def endpoint_error_message(exc: Exception, model: str, base_url: str, limits: EndpointLimits) -> str:
    """What went wrong with a request, and the fix, in words; never the key."""
    import openai

    status = getattr(exc, "status_code", None)
    detail = server_detail(exc)
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        _, variable = api_key_for(base_url)
        where = f"the key in ${variable}" if variable else f"no key (${API_KEY_VARIABLES[0]} is not set)"
        return f"{base_url} refused {where} ({status}): set ${API_KEY_VARIABLES[0]} to a key this server accepts"
    if isinstance(exc, openai.NotFoundError):
        return (f"{base_url} answered 404 for model {model!r}: check the model name (GET {base_url}/models lists "
                "them) and that the base URL ends in /v1")
    if isinstance(exc, openai.RateLimitError):
        return (f"{base_url} kept rate-limiting (429) after {limits.retries} retries: lower the concurrency "
                "($LLM_JUDGE_CONCURRENCY or --concurrency) or try later")
    if isinstance(exc, openai.APITimeoutError):
        return (f"{base_url} sent nothing for {limits.read_timeout:g} s (after {limits.retries} retries): the server "
                "is overloaded or the reply is long; raise $LLM_JUDGE_TIMEOUT")
    if isinstance(exc, openai.APIConnectionError) or status is None:
        return (f"cannot reach {base_url} ({type(exc).__name__}: {detail}): is the server running? "
                "check the URL and port")
    if status >= 500:
        return f"{base_url} failed with {status} after {limits.retries} retries: {detail}"
    return f"{base_url} refused the request for {model!r} ({status}): {detail}"


def probe_endpoint(backend: OpenAIBackend) -> None:
    """Check the model is served, and find which optional fields the server takes (see the module docstring)."""
    import openai

    try:
        served = [m.id for m in backend.client.models.list()]
    except (openai.AuthenticationError, openai.PermissionDeniedError, openai.APIConnectionError) as exc:
        raise ModelLoadError(backend._error(exc).args[0]) from exc
    except openai.APIError:
        served = []  # no model list here (transformers serve without a hub cache): the probe request tells
    if served and backend.model not in served:
        raise ModelLoadError(f"{backend.base_url} does not serve a model named {backend.model!r}; it serves: "
                             f"{', '.join(served[:12])}: use e.g. openai:{served[0]}@{backend.base_url}")
    hello = [{"role": "user", "content": "Say yes."}]
    tiny = SamplingSettings(temperature=0.0, min_p=0.05, max_new_tokens=1)  # min_p > 0: _create finds out
    backend.accepts.update(min_p=True, logprobs=True, grammar=False)
    try:
        try:
            _, tokens, _ = backend.reply_with_probabilities(hello, tiny, top_logprobs=5)
        except EndpointError as exc:
            if "logprobs" not in str(exc):
                raise
            backend.accepts["logprobs"], tokens = False, []
            backend.reply_with_probabilities(hello, tiny, top_logprobs=0)
    except EndpointError as exc:
        raise ModelLoadError(f"{exc} (while checking {backend.spec.text} at load)") from exc
    # transformers serve accepts logprobs and returns none: only probabilities actually returned count.
    backend.accepts["logprobs"] = bool(tokens and tokens[0].top)
    _probe_grammar(backend, hello, tiny)
    backend.capabilities = Capabilities(grammar=backend.accepts["grammar"],
                                        reply_probabilities=backend.accepts["logprobs"])


def _probe_grammar(backend: OpenAIBackend, hello, tiny: SamplingSettings) -> None:
    backend.accepts["grammar"] = True  # so that _create sends the grammar
    try:
        text, _, _ = backend.reply_with_probabilities(hello, tiny.with_(max_new_tokens=4), grammar='root ::= "maybe"',
                                                      top_logprobs=0)
    except EndpointError:
        text = ""
    backend.accepts["grammar"] = text.strip() == "maybe"  # a server that ignores the field replies in its own words


def load_openai_backend(spec: ModelSpec) -> OpenAIBackend:
    try:
        import openai
    except ImportError as exc:
        raise ModelLoadError("served models need the openai client: run `pip install openai`") from exc
    model, base_url = split_endpoint_spec(spec.text)
    limits = EndpointLimits.from_environment()
    key, _ = api_key_for(base_url)
    started = time.perf_counter()
    client = openai.OpenAI(base_url=base_url, api_key=key, max_retries=limits.retries,
                           timeout=openai.Timeout(limits.read_timeout, connect=limits.connect_timeout))
    backend = OpenAIBackend(spec=spec, model=model, base_url=base_url, client=client, limits=limits)
    probe_endpoint(backend)
    backend.load_seconds = time.perf_counter() - started
    return backend
