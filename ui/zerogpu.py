"""ZeroGPU on a Hugging Face Space: each handler that generates runs under `@spaces.GPU`, asking for a duration
estimated from its own request, when the `spaces` package is installed; elsewhere the handler is left as it is.

ZeroGPU lends a GPU for a decorated call up to the duration it asks for, and serves shorter asks first
(https://huggingface.co/docs/hub/spaces-zerogpu, "Duration Management"); an ask above what the visitor may use is
refused before the call starts ("The requested GPU duration (300s) is larger than the maximum allowed", as Spaces
report it: github.com/facebookresearch/vggsfm/issues/100). So each handler asks for what its request could need at
most: its model loads, plus its tokens at a pessimistic rate, within [MIN_SECONDS, MAX_SECONDS].
ZeroGPU calls the duration function with the handler's own arguments; the estimates here read them by name, so a
handler can gain a parameter (a new box on the page) without its estimate going wrong.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from finetune.config import FIELDS
from lab.distill import GOLD
from lab.validation import load_labelled, shipped_labelled_sets
from models import DEFAULT_JUDGE_SETTINGS
from runs.prompt_sets import load_prompt_set, shipped_prompt_sets
from runs.public import public_gate

# The range every ask is clamped to. Below MIN, a short request's loads and first tokens could be cut off for a few
# seconds of queue priority. MAX is a free account's whole daily quota (5 minutes; an unauthenticated visitor has 2,
# and ZeroGPU refuses an ask above what is left, with its own message): asking more could never be granted to one.
MIN_SECONDS = 20
MAX_SECONDS = 300
# One model loaded per call: the embedded 135M model from the local cache (converted once, at startup, by the
# preload) takes a few seconds; ZeroGPU may run each call in a fresh process, so every call counts its loads.
LOAD_SECONDS = 10
# 40 tokens/s for one generation: under a third of what the embedded model gives on 2 CPU cores with llama.cpp
# (111-143 tok/s batched, README), and below what transformers should give on ZeroGPU's GPU (not measured: no GPU
# was lent). The slack is for a shared, busy machine: a reply cut off by the deadline costs more than a later place
# in the queue.
SECONDS_PER_TOKEN = 0.025
# Judge calls per item: single mode grades A and B apart; pairwise judges both orders (position bias). Each is
# counted as a full reply (the parsed method, or the probabilities method's reasons) of the judge's token budget.
JUDGE_CALLS_PER_ITEM = 2
JUDGE_REPLY_SECONDS = SECONDS_PER_TOKEN * DEFAULT_JUDGE_SETTINGS.max_new_tokens
# Distillation, per labelled pair besides the teacher's labelling: reading both answers and their degraded copies
# (one forward pass each) and measuring the student and the untrained baseline on the held-out part.
DISTILL_SECONDS_PER_PAIR = 2.0
# Fine-tuning, per token of a batch counted at the full max_seq_length (a cap: shorter rows finish sooner): 10k
# tokens/s of forward and backward through a 135M model with LoRA, a guess well under a GPU's (not measured).
TRAIN_SECONDS_PER_TOKEN = 1e-4

Estimate = Callable[[Mapping[str, Any]], float]


def spaces_module():
    """Hugging Face's `spaces` package (installed on a Space), or None where it is not installed."""
    try:
        import spaces
    except ImportError:
        return None
    return spaces


def gpu_handler(estimate: Estimate):
    """`@gpu_handler(estimate)`: the handler under `spaces.GPU(duration=...)` when `spaces` is installed (a no-op
    there too unless the Space runs on ZeroGPU), else the handler itself. spaces.GPU keeps a generator a generator, so
    a streaming handler still streams, and keeps its signature, so Gradio still passes gr.Progress and gr.Request."""
    def decorate(handler):
        spaces = spaces_module()
        if spaces is None:
            return handler
        return spaces.GPU(duration=duration_for(handler, estimate))(handler)
    return decorate


def duration_for(handler: Callable, estimate: Estimate) -> Callable[..., int]:
    """ZeroGPU's duration function for `handler`: it takes the handler's arguments and gives whole seconds."""
    signature = inspect.signature(handler)

    def duration(*args, **kwargs) -> int:
        try:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            seconds = estimate(bound.arguments)
        except Exception:  # noqa: BLE001 - bad input is the handler's to refuse, with its own message; ask the most
            seconds = MAX_SECONDS
        return clamp_seconds(seconds)

    duration.__signature__ = signature
    duration.__name__ = f"{handler.__name__}_duration"
    return duration


def clamp_seconds(seconds: float) -> int:
    return int(min(MAX_SECONDS, max(MIN_SECONDS, round(seconds))))


def whole(value, default: int = 0) -> int:
    """A number box's value as an int (Gradio sends floats, None for an empty box)."""
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return default


def items_to_run(known: int | None, limit, cap: int | None) -> int | None:
    """How many items a request runs: the first `limit` (0: all) of `known` when the set's size is known, at most a
    shared app's `cap`; None when nothing bounds it."""
    bounds = [n for n in (known, whole(limit) if whole(limit) > 0 else None, cap) if n is not None]
    return min(bounds) if bounds else None


def generation_seconds(max_new_tokens, judges: int) -> float:
    """One item: the answers of A and B, each up to max_new_tokens, then every judge's calls."""
    return 2 * whole(max_new_tokens) * SECONDS_PER_TOKEN + judges * JUDGE_CALLS_PER_ITEM * JUDGE_REPLY_SECONDS


def compare_seconds(args: Mapping[str, Any]) -> float:
    judges = 1 + len(args.get("more_judges") or [])
    return LOAD_SECONDS * (2 + judges) + generation_seconds(args["max_new_tokens"], judges)


def batch_seconds(args: Mapping[str, Any]) -> float:
    gate = public_gate()
    # Only a shipped set is counted: any other path is a visitor's, read inside the call once the gate allowed it.
    name = args.get("prompt_set")
    known = len(load_prompt_set(name)) if name in shipped_prompt_sets() else None
    prompts = items_to_run(known, args.get("limit"), gate.policy.limits.prompt_set_items if gate else None)
    if prompts is None:
        return MAX_SECONDS
    judges = 1 + len(args.get("more_judges") or [])
    presets = max(1, len(args.get("presets") or []))
    return LOAD_SECONDS * (2 + judges) + prompts * presets * generation_seconds(args["max_new_tokens"], judges)


def resume_seconds(args: Mapping[str, Any]) -> float:
    """What is left of an interrupted run is only read inside the call (a visitor's run name is checked there)."""
    return MAX_SECONDS


def labelled_rows(data) -> int | None:
    """Rows of a shipped labelled file; None for any other (an upload, a run's votes: read inside the call)."""
    shipped = {Path(path).stem: path for path in shipped_labelled_sets()}  # a shared app's picker sends names
    data = shipped.get(data, data)
    return len(load_labelled(data).items) if data in shipped.values() else None


def validation_seconds(args: Mapping[str, Any]) -> float:
    gate = public_gate()
    items = items_to_run(labelled_rows(args.get("data")), args.get("limit"),
                         gate.policy.limits.labelled_items if gate else None)
    if items is None:
        return MAX_SECONDS
    judges = max(1, len(args.get("judges") or []))
    methods = max(1, len(args.get("methods") or []))
    return LOAD_SECONDS * judges + items * judges * methods * JUDGE_CALLS_PER_ITEM * JUDGE_REPLY_SECONDS


def distill_seconds(args: Mapping[str, Any]) -> float:
    pairs = items_to_run(labelled_rows(args.get("data")), args.get("limit"), None)
    if pairs is None:
        return MAX_SECONDS
    labelling = 0.0 if (args.get("teacher") or GOLD) == GOLD else JUDGE_CALLS_PER_ITEM * JUDGE_REPLY_SECONDS
    return LOAD_SECONDS * 3 + pairs * (labelling + DISTILL_SECONDS_PER_PAIR)  # student base, baseline, teacher


def training_seconds(args: Mapping[str, Any]) -> float:
    def field(name):
        return max(1, whole(args.get(name), FIELDS[name].default))

    tokens = (field("max_steps") * field("per_device_batch_size") * field("gradient_accumulation_steps")
              * field("max_seq_length"))
    return LOAD_SECONDS + tokens * TRAIN_SECONDS_PER_TOKEN


def sweep_seconds(args: Mapping[str, Any]) -> float:
    """Every model answers each prompt once per preset; each pairing is judged (a judge call per answer)."""
    name = args.get("prompt_set")
    known = len(load_prompt_set(name)) if name in shipped_prompt_sets() else None
    prompts = items_to_run(known, args.get("limit"), None)
    if prompts is None:
        return MAX_SECONDS
    models = len(args.get("checkpoints") or []) + 1
    presets = max(1, len(args.get("presets") or []))
    answers = models * prompts * presets * whole(args.get("max_new_tokens"), 256) * SECONDS_PER_TOKEN
    judging = (models - 1) * prompts * presets * JUDGE_CALLS_PER_ITEM * JUDGE_REPLY_SECONDS
    return LOAD_SECONDS * (models + 1) + answers + judging
