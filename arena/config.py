"""The arena's settings: the pool of models and the prompt source (a YAML data file, validated at load), and where
battles and votes are kept.

The pool file is data, as the public allow-list is: prompts/arena/pool.yaml, or the file named by
$LLM_JUDGE_ARENA_POOL. Every mistake in it is named with the file and the fix, before any model loads.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from basics import PROMPTS_DIR, UserFacingError, results_dir
from models import PRESETS
from runs.config import DEFAULT_JUDGE, checked_spec
from runs.prompt_sets import PromptItem, load_prompt_set

DEFAULT_POOL_FILE = PROMPTS_DIR / "arena" / "pool.yaml"
PROMPT_SOURCES = ("visitor", "set", "both")  # who writes the instruction: the visitor, the prompt set, either
MAX_TOKENS_CEILING = 4096
# A Hugging Face dataset repo id: org/name, the characters the hub allows.
REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}")


class ArenaError(UserFacingError):
    """A bad pool file, a refused battle or vote; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class PushSettings:
    """Optional batched pushes of the arena folder to a Hugging Face dataset repo (huggingface_hub's
    CommitScheduler). The token is read from $HF_TOKEN by huggingface_hub itself and never written anywhere."""

    repo: str = ""  # org/name of a dataset repo; "" = no push
    every_minutes: float = 5.0
    private: bool = True


@dataclass(frozen=True)
class ArenaConfig:
    """One arena: who battles, on what prompts, judged by whom, at what length."""

    models: tuple[str, ...]
    judge: str = DEFAULT_JUDGE
    prompts: str = "both"
    prompt_set: str = "study"
    preset: str = "p1"
    max_new_tokens: int = 192
    push: PushSettings = field(default_factory=PushSettings)
    source: str = ""  # the pool file it was read from, for messages

    def pairs(self) -> list[tuple[str, str]]:
        """Every unordered pair of pool models, each once."""
        return [(a, b) for i, a in enumerate(self.models) for b in self.models[i + 1:]]

    def set_items(self) -> list[PromptItem]:
        """The prompt set's items ([] when visitors write every prompt)."""
        return [] if self.prompts == "visitor" else load_prompt_set(self.prompt_set)


def pool_file() -> Path:
    return Path(os.environ.get("LLM_JUDGE_ARENA_POOL") or DEFAULT_POOL_FILE)


def arena_dir() -> Path:
    """Where battles and votes are kept: $LLM_JUDGE_ARENA_DIR, else arena/ in the results folder, which is the
    persistent storage's (/data/results) on a Space that has one, so votes outlive a restart."""
    return Path(os.environ.get("LLM_JUDGE_ARENA_DIR") or results_dir() / "arena")


def load_arena_config(path: str | Path | None = None) -> ArenaConfig:
    """The arena from `path`, $LLM_JUDGE_ARENA_POOL or the shipped pool; every field checked, unknown keys refused."""
    source = Path(path) if path else pool_file()
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ArenaError(f"cannot read the arena pool {source}{where}: not valid YAML "
                         f"({getattr(exc, 'problem', None) or exc.__class__.__name__}); fix the file (example: "
                         f"{DEFAULT_POOL_FILE})") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ArenaError(f"cannot read the arena pool {source}: {exc.__class__.__name__}: {exc}; fix the file or "
                         f"point $LLM_JUDGE_ARENA_POOL at one (example: {DEFAULT_POOL_FILE})") from exc
    if not isinstance(data, dict):
        raise ArenaError(f"{source}: expected a mapping with a `models:` list (example: {DEFAULT_POOL_FILE})")
    known = {f.name for f in fields(ArenaConfig)} - {"source"}
    if unknown := sorted(set(data) - known):
        raise ArenaError(f"{source}: unknown keys {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    config = ArenaConfig(models=_models(data.get("models"), source), judge=_spec(data, "judge", DEFAULT_JUDGE, source),
                         prompts=_choice(data, "prompts", "both", PROMPT_SOURCES, source),
                         prompt_set=str(data.get("prompt_set", "study")),
                         preset=_choice(data, "preset", "p1", tuple(PRESETS), source),
                         max_new_tokens=_whole(data, "max_new_tokens", 192, source),
                         push=_push(data.get("push"), source), source=str(source))
    try:
        config.set_items()
    except UserFacingError as exc:
        raise ArenaError(f"{source}: prompt_set {config.prompt_set!r}: {exc}") from exc
    return config


def _models(value, source: Path) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(m, str) and m.strip() for m in value):
        raise ArenaError(f"{source}: `models:` must be a list of model specs (at least two), e.g. "
                         "[smollm2-135m-gguf, smollm2-135m-f32-gguf]")
    models = tuple(dict.fromkeys(m.strip() for m in value))
    if len(models) < 2:
        raise ArenaError(f"{source}: the pool needs at least two different models to pair, got {list(models)}")
    for spec in models:
        _check_spec(spec, source)
    return models


def _check_spec(spec: str, source: Path) -> None:
    try:
        checked_spec(spec)
    except UserFacingError as exc:
        raise ArenaError(f"{source}: model {spec!r}: {exc}") from exc


def _spec(data: dict, key: str, default: str, source: Path) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise ArenaError(f"{source}: `{key}:` must be one model spec, e.g. {default}")
    _check_spec(value.strip(), source)
    return value.strip()


def _choice(data: dict, key: str, default: str, allowed: tuple[str, ...], source: Path) -> str:
    value = data.get(key, default)
    if value not in allowed:
        raise ArenaError(f"{source}: `{key}:` must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _whole(data: dict, key: str, default: int, source: Path) -> int:
    value = data.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_TOKENS_CEILING:
        raise ArenaError(f"{source}: `{key}:` must be a whole number from 1 to {MAX_TOKENS_CEILING}, got {value!r}")
    return value


def _push(value, source: Path) -> PushSettings:
    if value in (None, "", {}):
        return PushSettings()
    if not isinstance(value, dict) or set(value) - {"repo", "every_minutes", "private"}:
        raise ArenaError(f"{source}: `push:` takes repo (a dataset repo id, org/name), every_minutes and private")
    repo = str(value.get("repo") or "")
    if repo and not REPO_ID.fullmatch(repo):
        raise ArenaError(f"{source}: push.repo must be a dataset repo id like my-org/arena-votes, got {repo!r}")
    every = value.get("every_minutes", 5.0)
    if not isinstance(every, int | float) or isinstance(every, bool) or not 1 <= every <= 24 * 60:
        raise ArenaError(f"{source}: push.every_minutes must be from 1 to 1440, got {every!r}")
    return PushSettings(repo=repo, every_minutes=float(every), private=bool(value.get("private", True)))


def check_public_pool(policy, config: ArenaConfig) -> None:
    """A shared app's arena battles allow-listed models only, at lengths within its limits (runs/public.py's rules):
    refused when the app starts, so a visitor never meets a half-working arena."""
    try:
        for spec in config.models:
            policy.check_model(spec, "arena model")
        policy.check_model(config.judge, "arena judge")
        policy.check_max_new_tokens(config.max_new_tokens)
    except UserFacingError as exc:
        raise ArenaError(f"{config.source}: {exc}; on a shared app the pool must fit the public allow-list: add the "
                         "model there or take it out of the pool") from exc
