"""What a run checks once its models are loaded and before any of them generates: models A and B can write answers,
the seeds lie in each backend's range, and every prompt fits each model's context window (with the system prompt
A or B gets) and room for what is generated after it (refused, or cut to fit with a notice on its record, as the
run's `long_prompts` says).

All of it happens before the first model call, so a run that cannot finish is refused at once instead of after the
prompts before the bad one were answered; backends that cannot count tokens (served models) are not checked.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from basics import UserFacingError
from models.errors import ModelSpecError, SettingsError
from runs.prompt_sets import PromptItem
from runs.system_prompts import conversation

GENERATORS = (("model_a", "model A"), ("model_b", "model B"))
SIDE_OF = {"model_a": "A", "model_b": "B"}


class PromptTooLongError(UserFacingError):
    """A prompt does not fit a model's context window and the run refuses long prompts."""


@dataclass
class Limit:
    """One model's context window, as a prompt meets it."""

    label: str  # "model A (smollm2-135m)"
    context: int
    reserved: int  # tokens kept for what is generated after the prompt (answers, the judge's reply)
    # (prompt, reference, the item's own system prompt) -> tokens the model reads before generating
    count: Callable[[str, str, str | None], int]
    reserved_text: str

    def overflow(self, prompt: str, reference: str, system: str | None = None) -> tuple[int, int] | None:
        """(tokens of the prompt as read, tokens needed in all) when they exceed the context window, else None."""
        read = self.count(prompt, reference, system)
        return None if read + self.reserved <= self.context else (read, read + self.reserved)


def check_start(config, template, backends: dict, items: list[PromptItem]) -> tuple[list[PromptItem], dict]:
    """The items to run (long ones cut when the run truncates) and {item id: [warnings]}; raises what must stop the
    run before any generation."""
    for role, label in GENERATORS:
        backend = backends[role]
        if backend.capabilities.answer_scores:
            raise ModelSpecError(f"{label} ({backend.spec.text}) is a scoring judge: it scores answers and cannot "
                                 f"write them; use it as the judge, and a generative model as {label}")
    check_seeds(config, backends)
    return fit_prompts(config, template, backends, items)


def check_seeds(config, backends: dict) -> None:
    """Every seed the run samples with lies in the range of each backend that uses it: outside, llama.cpp would
    silently give another seed's answer and torch refuses mid-run."""
    seeds = sorted({settings.seed for _, settings in config.sampling_plan()})
    checks = [(label, backends[role], seed) for role, label in GENERATORS for seed in seeds]
    checks += [("the judge", judge, config.judge_sampling.seed) for judge in backends["judges"]]
    for label, backend, seed in checks:
        problem = backend.seed_problem(seed)
        if problem:
            raise SettingsError(f"{label} ({backend.spec.text}): {problem}")


def model_limits(config, template, backends: dict) -> list[Limit]:
    """The context windows a prompt must fit: A's and B's with their system prompt and the answer's length, and each
    judge's with its template, the answers it reads (each up to the answer length) and its reply."""
    answer = config.sampling.max_new_tokens
    system = backends["system"]
    limits = []
    for role, label in GENERATORS:
        backend = backends[role]
        context = backend.context_length()
        if context and backend.prompt_tokens(conversation("")) is not None:
            def count(prompt: str, reference: str, own: str | None, backend=backend, side=SIDE_OF[role]) -> int:
                return backend.prompt_tokens(conversation(prompt, system.applied(side, own)))

            limits.append(Limit(f"{label} ({backend.spec.text})", context, answer, count, f"{answer} for the answer"))
    slots = {"single": ("answer",), "pairwise": ("answer_a", "answer_b")}[config.mode]
    reply = config.judge_sampling.max_new_tokens
    for judge in backends["judges"]:
        context = judge.context_length()
        if not context or judge.capabilities.answer_scores:
            continue
        def render(prompt: str, reference: str, own: str | None = None, judge=judge) -> int | None:
            return judge.prompt_tokens(template.render(prompt=prompt, reference=reference, **dict.fromkeys(slots, "")))

        if render("", "") is None:
            continue
        limits.append(Limit(f"the judge ({judge.spec.text})", context, answer * len(slots) + reply, render,
                            f"{answer * len(slots)} for the answers it reads and {reply} for its reply"))
    return limits


def fit_prompts(config, template, backends: dict, items: list[PromptItem]) -> tuple[list[PromptItem], dict]:
    limits = model_limits(config, template, backends)
    if not limits:
        return list(items), {}
    fitted, warnings, too_long = [], {}, []
    for item in items:
        found = first_overflow(limits, item.prompt, item.reference, item.system)
        if found is None:
            fitted.append(item)
        elif config.long_prompts == "truncate":
            cut, warning = truncate(limits, item, *found)
            fitted.append(cut)
            warnings[item.id] = [warning]
        else:
            too_long.append((item, *found))
    if too_long:
        item, limit, (read, need) = too_long[0]
        more = ""
        if len(too_long) > 1:
            more = f"; {len(too_long) - 1} more prompt(s) are too long too: " + ", ".join(
                repr(other.id) for other, *_ in too_long[1:6])
        raise PromptTooLongError(
            f"prompt {item.id!r} is too long for {limit.label}: it reads {read} tokens and needs "
            f"{limit.reserved_text}, {need} in all, more than its context window of {limit.context}: shorten it, lower "
            f"the answer length (--max-new-tokens), or cut long prompts to fit (--long-prompts truncate){more}")
    return fitted, warnings


def first_overflow(limits: list[Limit], prompt: str, reference: str, system: str | None = None):
    """(the first limit the prompt exceeds, (tokens read, tokens needed)), or None when it fits every one; `system`
    is the item's own system prompt."""
    for limit in limits:
        over = limit.overflow(prompt, reference, system)
        if over is not None:
            return limit, over
    return None


def truncate(limits: list[Limit], item: PromptItem, limit: Limit, over: tuple[int, int]) -> tuple[PromptItem, str]:
    """The item with its prompt cut to the longest beginning that fits every limit, and the notice saying so."""
    text, reference, system = item.prompt, item.reference, item.system
    if first_overflow(limits, "", reference, system) is not None:
        empty_limit, (read, need) = first_overflow(limits, "", reference, system)
        raise PromptTooLongError(
            f"prompt {item.id!r} cannot be cut to fit {empty_limit.label}: even without the prompt it needs {need} "
            f"tokens, more than its context window of {empty_limit.context}: lower the answer length "
            "(--max-new-tokens) or shorten the system prompt, the judge's template or the prompt's reference")
    fits, fails = 0, len(text)
    # Most tokens are longer than a character: a first guess of a few characters per token of context saves steps.
    guess = min(len(text) - 1, limit.context * 4)
    if guess > 0:
        fitting = first_overflow(limits, text[:guess], reference, system) is None
        fits, fails = (guess, fails) if fitting else (0, guess)
    while fails - fits > 1:
        middle = (fits + fails) // 2
        if first_overflow(limits, text[:middle], reference, system) is None:
            fits = middle
        else:
            fails = middle
    kept = text[:fits].rstrip()  # what fits ends at a token's start: the space before it is noise
    after = limit.count(kept, reference, system)
    warning = (f"prompt {item.id!r} was cut to fit the context window of {limit.label}, {limit.context} tokens with "
               f"{limit.reserved_text}: it read {over[0]} tokens, now {after} ({len(kept)} of {len(text)} characters "
               "kept)")
    return replace(item, prompt=kept), warning
