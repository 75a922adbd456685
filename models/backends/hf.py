"""transformers + PEFT backend: embedded, local and hub models, with an optional LoRA adapter; CPU or CUDA."""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from models.accelerators import pick_inference_engine
from models.adapter_files import check_peft_adapter
from models.backend import DEFAULT_BATCH_SIZE, LENGTH, STOP, Backend, Capabilities, Generation, Message, in_chunks
from models.backends.unsloth_inference import load_unsloth_model, prepare_for_inference
from models.errors import ModelLoadError, ModelSpecError
from models.hub_files import hub_reachable
from models.probabilities import common_prefix_length, continuation_logprobs, log_softmax
from models.settings import SamplingSettings
from models.spec import ModelSpec, transformers_source
from models.threads import generation_running


@dataclass
class TransformersBackend(Backend):
    model: Any = None
    tokenizer: Any = None
    device: str = "cpu"
    engine: str = "transformers"  # or "unsloth": FastLanguageModel.for_inference on CUDA (models/accelerators.py)
    name: str = "transformers"
    capabilities: ClassVar[Capabilities] = Capabilities(grammar=True, token_probabilities=True,
                                                        batched_generation=True, perplexity=True)
    # (token ids, KV cache) of the last probability read: the next read of the same prompt extends or crops it.
    _probability_cache: tuple = field(default_factory=lambda: ([], None), repr=False)
    _grammars: Any = field(default=None, repr=False)  # models.constrained.TokenizerGrammars, built on first use

    def stream(self, messages: list[Message], settings: SamplingSettings, grammar: str | None = None) -> Iterator[str]:
        import torch
        from transformers import LogitsProcessorList, StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

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
        if grammar:
            kwargs["logits_processor"] = LogitsProcessorList([self._grammar_processor(grammar)])
        failure: list[BaseException] = []
        made: list = []  # generate()'s output: the new tokens say whether the reply ended or was cut off

        def run() -> None:
            try:
                torch.manual_seed(settings.seed)
                with generation_running() as threads, torch.inference_mode():
                    torch.set_num_threads(threads)
                    made.append(self.model.generate(**kwargs))
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
        if made:
            sequences = getattr(made[0], "sequences", made[0])  # a tensor, or an output object holding one
            new_tokens = sequences[0, inputs["input_ids"].shape[1]:].tolist()
            self.stream_end["finish_reason"] = self._finish_reason(new_tokens, len(new_tokens), settings)

    def _finish_reason(self, tokens: list[int], generated: int, settings: SamplingSettings) -> str:
        """LENGTH when `generated` reached max_new_tokens with no end-of-turn token among `tokens`, else STOP."""
        ended = any(token in self._stop_ids() for token in tokens)
        return LENGTH if not ended and generated >= settings.max_new_tokens else STOP

    def score(self, messages: list[Message], settings: SamplingSettings, grammar: str | None = None) -> Generation:
        """The judge's reply, held to the GBNF `grammar` token by token (models/constrained.py); without one,
        exactly complete()'s reply."""
        if grammar is None:
            return self.complete(messages, settings)
        started = time.perf_counter()
        with self.lock:
            text = "".join(self.stream(messages, settings, grammar=grammar))
        return Generation(text=text, n_tokens=self.count_tokens(text), seconds=time.perf_counter() - started)

    def _grammar_processor(self, gbnf: str):
        from models.constrained import TokenizerGrammars

        if self._grammars is None:
            self._grammars = TokenizerGrammars(self.tokenizer, self._eos_ids())
        return self._grammars.processor(gbnf)

    def generate_batch(
        self, conversations: list[list[Message]], settings: SamplingSettings, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> list[Generation]:
        """One Generation per conversation, from one model.generate() call per chunk of `batch_size`.

        Prompts are left-padded, so every row's prompt ends in the same column and the new tokens start together;
        the attention mask keeps the padding out of every row's context. Greedy replies equal complete()'s (padding
        changes the float sums' shapes, so an exact near-tie between two tokens could in principle flip). Sampled
        replies are repeatable for the same conversations, order, batch_size and seed, but are not complete()'s:
        each chunk is seeded once with settings.seed and its rows draw from one random stream.

        A row's reply ends at its first end-of-sequence or pad token; `n_tokens` counts the generated tokens
        before it. Rows finish together, so there is no per-reply latency: `seconds` is the reply's share of
        its chunk's wall time in proportion to its tokens (the chunk's `seconds` add up to its wall time, and
        every row's tokens_per_second is the chunk's throughput); `first_token_seconds` is None.
        """
        return in_chunks(conversations, batch_size, lambda chunk: self._generate_chunk(chunk, settings))

    def _generate_chunk(self, conversations: list[list[Message]], settings: SamplingSettings) -> list[Generation]:
        import torch

        started = time.perf_counter()
        encoded = [
            self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)
            for messages in conversations
        ]
        # padding_side per call rather than set on the tokenizer: the tokenizer is shared with other requests.
        batch = self.tokenizer.pad(
            [{"input_ids": e["input_ids"], "attention_mask": e["attention_mask"]} for e in encoded],
            padding_side="left", return_tensors="pt",
        )
        batch = {k: v.to(self.device) for k, v in batch.items()}
        with self.lock:
            torch.manual_seed(settings.seed)
            with generation_running() as threads, torch.inference_mode():
                torch.set_num_threads(threads)
                output = self.model.generate(**batch, **generation_kwargs(settings), pad_token_id=self._pad_id())
        stops = self._stop_ids()
        made = output[:, batch["input_ids"].shape[1]:].tolist()
        rows = [_until_stop(row, stops) for row in made]
        texts = [self.tokenizer.decode(row, skip_special_tokens=True) for row in rows]
        seconds = time.perf_counter() - started
        total = sum(len(row) for row in rows)
        shares = [len(row) / total if total else 1 / len(rows) for row in rows]
        return [Generation(text=text, n_tokens=len(row), seconds=seconds * share,
                           finish_reason=self._finish_reason(whole, len(whole), settings))
                for text, row, share, whole in zip(texts, rows, shares, made)]

    def perplexity(self, messages: list[Message], reference: str) -> float | None:
        """exp(mean NLL) of the reference's tokens after the chat-templated prompt (see Backend.perplexity).

        The reference is tokenized on its own and appended to the prompt, so exactly its tokens are scored:
        not the end-of-turn token the template would add after it. Only the logits of those positions are
        computed (logits_to_keep), which keeps memory small for long prompts.
        """
        import torch

        target = self.tokenizer(reference, add_special_tokens=False, return_tensors="pt")["input_ids"].to(self.device)
        n = target.shape[1]
        if n == 0:
            return None
        ids = torch.cat([self.encode_chat(messages)["input_ids"], target], dim=1)
        with self.lock, torch.inference_mode():
            logits = self.model(input_ids=ids, logits_to_keep=n + 1).logits[0, :-1].float()  # predicts target
            nll = torch.nn.functional.cross_entropy(logits, target[0])
        return math.exp(nll.item())

    def continuation_logprobs(self, messages: list[Message], prefix: str, continuations: list[str]) -> list[float]:
        text = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False) + prefix
        with self.lock:
            return continuation_logprobs(self._token_ids, self._next_logprobs, text, continuations)

    def _token_ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _next_logprobs(self, ids: list[int]):
        """Log-probabilities of the token after `ids`, reusing the KV cache of the previous read's shared prefix."""
        import torch

        cached_ids, cache = self._probability_cache
        keep = min(common_prefix_length([ids, cached_ids]), len(ids) - 1) if cached_ids else 0
        if cache is None or keep == 0:
            cache, keep = None, 0
        elif cache.get_seq_length() > keep:
            cache.crop(keep - cache.get_seq_length())  # a negative count: tokens to drop from the end
        new = torch.tensor([ids[keep:]], device=self.device)
        with torch.inference_mode():
            out = self.model(input_ids=new, past_key_values=cache, use_cache=True)
        self._probability_cache = (list(ids), out.past_key_values)
        return log_softmax(out.logits[0, -1].float().cpu().numpy())

    def _pad_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return self.tokenizer.eos_token_id if pad is None else pad

    def _stop_ids(self) -> set[int]:
        return {i for i in self._eos_ids() | {self._pad_id()} if i is not None}

    def _eos_ids(self) -> set[int]:
        """Every token that ends a reply: the generation config's end-of-turn ids and the tokenizer's eos."""
        eos = self.model.generation_config.eos_token_id
        ids = set(eos if isinstance(eos, list) else [eos]) | {self.tokenizer.eos_token_id}
        return {i for i in ids if i is not None}

    @contextmanager
    def compute_threads(self) -> Iterator[int]:
        """Count work other than generation on this model (a judge's feature passes) in with the generations running,
        and give torch its fair share of the cores for it (models/threads.py)."""
        import torch

        with generation_running() as threads:
            torch.set_num_threads(threads)
            yield threads

    @property
    def computes_on_this_cpu(self) -> bool:
        return self.device == "cpu"

    def encode_chat(self, messages: list[Message]) -> dict:
        encoded = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        return {k: v.to(self.device) for k, v in encoded.items()}

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def context_length(self) -> int | None:
        config = self.model.config
        return getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)

    def prompt_tokens(self, messages: list[Message]) -> int | None:
        text = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return len(self._token_ids(text))

    def describe(self) -> dict:
        # The hub commit the weights came from (None for local folders): with run.json's file hashes, what identifies
        # the weights a run used.
        revision = getattr(self.model.config, "_commit_hash", None) if self.spec.base_kind == "hub" else None
        return {**super().describe(), "device": self.device, "dtype": str(self.model.dtype).replace("torch.", ""),
                "engine": self.engine, **({"revision": revision} if revision else {})}


def _until_stop(row: list[int], stops: set[int]) -> list[int]:
    """The generated tokens before the first stop token (generate pads finished rows with pad_token_id)."""
    for i, token in enumerate(row):
        if token in stops:
            return row[:i]
    return row


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
    from safetensors import SafetensorError
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    # A bar per load (about a second here) would bury the one line a failed start prints; the CLI shows its own.
    transformers_logging.disable_progress_bar()
    started = time.perf_counter()
    source = transformers_source(spec)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    # Full precision on CPU: these CPUs have no native bf16 and emulating it is many times slower.
    dtype = torch.float32 if device == "cpu" else (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)
    engine = pick_inference_engine(cuda=device == "cuda")  # before the weights are read: a bad choice fails at once
    try:
        if spec.base_kind == "hub":
            _check_hub_reachable_unless_cached(spec.base)
        tokenizer = AutoTokenizer.from_pretrained(source, **hub_revision(spec.base_hub))
        model = (load_unsloth_model(source, **hub_revision(spec.base_hub)) if engine == "unsloth"
                 else AutoModelForCausalLM.from_pretrained(source, dtype=dtype, **hub_revision(spec.base_hub)))
    except OSError as exc:
        raise ModelLoadError(_explain_load_failure(spec, exc)) from exc
    except (ValueError, RuntimeError, KeyError, SafetensorError) as exc:  # a local folder's damaged config or weights
        raise ModelLoadError(f"could not load model {spec.base!r} ({type(exc).__name__}: {exc}): its files are "
                             "damaged or not a transformers model; download or copy it again") from exc
    model.to(device)
    if spec.adapter:
        model = _attach_adapter(model, spec)
    model.eval()
    if engine == "unsloth":
        model = prepare_for_inference(model)  # after the adapter: Unsloth's generate() wraps the model as used
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return TransformersBackend(
        spec=spec, model=model, tokenizer=tokenizer, device=device, engine=engine,
        load_seconds=time.perf_counter() - started
    )


def _attach_adapter(model, spec: ModelSpec):
    from peft import PeftModel

    if spec.adapter_kind == "local":
        check_peft_adapter(spec.adapter)  # a folder without weights would otherwise be looked up as a hub repo id
    try:
        return PeftModel.from_pretrained(model, spec.adapter, is_trainable=False, **hub_revision(spec.adapter_hub))
    except RuntimeError as exc:
        if "size mismatch" in str(exc):
            raise ModelSpecError(
                f"adapter {spec.adapter!r} does not fit base {spec.base!r} (its weight shapes differ): "
                "it was trained on another base model; pair it with that base"
            ) from exc
        raise ModelLoadError(f"could not load adapter {spec.adapter!r} ({exc}): save or copy it again") from exc
    except Exception as exc:  # PEFT, safetensors and the hub client each raise their own types for unreadable files
        raise ModelLoadError(f"could not load adapter {spec.adapter!r} ({type(exc).__name__}: {exc}): check that "
                             "it is a whole PEFT LoRA adapter folder, or save or copy it again") from exc


def hub_revision(choice) -> dict:
    """from_pretrained's revision for a hub choice: the commit its files were listed at, so the weights loaded are
    the ones the manifest names."""
    return {"revision": choice.revision} if choice is not None and choice.revision else {}


def _check_hub_reachable_unless_cached(repo_id: str) -> None:
    """A hub model that is not in the local cache needs the hub: when it cannot be reached, say so in seconds
    (the hub client's own retries took 49 s to fail offline). OSError, as the hub client raises. The reachability
    check is models/hub_files.hub_reachable's, remembered for a minute: resolving the spec asked it already."""
    from urllib.parse import urlsplit

    from huggingface_hub import constants, try_to_load_from_cache

    if constants.HF_HUB_OFFLINE or isinstance(try_to_load_from_cache(repo_id, "config.json"), str):
        return  # offline mode fails at once by itself; a cached model needs no network
    if not hub_reachable():
        raise OSError(f"cannot reach {urlsplit(constants.ENDPOINT).hostname}")


def _explain_load_failure(spec: ModelSpec, exc: OSError) -> str:
    if spec.base_kind == "hub":
        from huggingface_hub import constants

        why = ("offline mode (HF_HUB_OFFLINE) forbids downloading" if constants.HF_HUB_OFFLINE
               else f"it could not be downloaded ({exc})" if "cannot reach" in str(exc)
               else "it could not be downloaded (no network?)")
        notes = f" ({'; '.join(spec.notices)})" if spec.notices else ""
        return (
            f"could not load hub model {spec.base!r}{notes}: it is not in the local Hugging Face cache and {why}. "
            f"Download it on a connected machine (`hf download {spec.base}`), pass a local folder, "
            "or use the embedded 'smollm2-135m'."
        )
    return f"could not load model {spec.base!r}: {exc}"
