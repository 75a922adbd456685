"""Answers kept on disk for a sweep: each model answers each prompt once per setting, and every pairing reuses it.

The key is what makes the answer what it is: the model spec with its files' fingerprints (a checkpoint retrained in
the same folder is a new model), the exact conversation sent (system prompt included), the sampling settings (seed
included) and the preset. One JSON file per answer under the results folder's `.cache/answers/`, written atomically:
a sweep killed mid-way keeps every answer it finished and never leaves half of one.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from basics import read_json, write_json_atomic
from models import Generation, load_model
from runs.config import BATCH_SIZE, CompareConfig
from runs.fingerprints import describe_model
from runs.prompt_sets import PromptItem
from runs.system_prompts import run_system_prompts

CACHE_FOLDER = Path(".cache") / "answers"
CACHE_VERSION = 1  # bumped when what an entry holds changes: older entries are then simply not found


@dataclass
class AnswerCache:
    """The answers of one results folder; `generated` counts the answers made (not read back) in this process."""

    root: Path
    generated: int = 0
    reused: int = 0
    fingerprints: dict[str, list] = field(default_factory=dict)  # spec -> files and revision, computed once

    @classmethod
    def under(cls, out_dir: str | Path) -> AnswerCache:
        return cls(Path(out_dir) / CACHE_FOLDER)

    def identity(self, spec: str) -> list:
        """What the model is beyond its name: its files' sha256 and a hub model's revision (loads the model)."""
        if spec not in self.fingerprints:
            described = describe_model(load_model(spec))
            files = [(f.get("role"), f.get("sha256") or f.get("error")) for f in described.get("files") or []]
            self.fingerprints[spec] = [files, described.get("revision")]
        return self.fingerprints[spec]

    def key(self, spec: str, messages: list[dict], settings: dict, preset: str) -> str:
        payload = {"version": CACHE_VERSION, "spec": spec, "model": self.identity(spec), "messages": messages,
                   "settings": settings, "preset": preset}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()

    def read(self, key: str) -> Generation | None:
        entry = read_json(self.root / f"{key}.json")  # a damaged entry reads as None: answered again
        try:
            return None if entry is None else generation_from_dict(entry["generation"])
        except (KeyError, TypeError, ValueError):
            return None

    def write(self, key: str, spec: str, generation: Generation) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.root / f"{key}.json", {"spec": spec, "generation": generation.to_dict()})

    def answers(self, spec: str, items: Sequence[PromptItem], plan: Sequence[tuple[str, object]],
                say: Callable[[str], None] = lambda text: None) -> dict[tuple[str, str], Generation]:
        """(prompt id, preset) -> the model's answer, from the cache or generated (batched) and stored."""
        system = run_system_prompts(CompareConfig(model_a=spec, model_b=spec))
        found: dict[tuple[str, str], Generation] = {}
        for preset, sampling in plan:
            keys = {item.id: self.key(spec, system.messages("A", item), sampling.to_dict(), preset) for item in items}
            missing = []
            for item in items:
                cached = self.read(keys[item.id])
                if cached is None:
                    missing.append(item)
                else:
                    found[(item.id, preset)] = cached
                    self.reused += 1
            if missing:
                say(f"answering {len(missing)} prompt(s) with {spec} at {preset}")
                backend = load_model(spec)
                for start in range(0, len(missing), BATCH_SIZE):
                    chunk = missing[start:start + BATCH_SIZE]
                    made = backend.generate_batch([system.messages("A", item) for item in chunk], sampling,
                                                  batch_size=len(chunk))
                    for item, generation in zip(chunk, made):
                        self.write(keys[item.id], spec, generation)
                        found[(item.id, preset)] = generation
                        self.generated += 1
        return found


def generation_from_dict(data: dict) -> Generation:
    """A Generation back from its to_dict() (tokens per second is derived, so it is not read)."""
    return Generation(text=str(data["text"]), n_tokens=int(data["n_tokens"]), seconds=float(data["seconds"]),
                      first_token_seconds=data.get("first_token_seconds"), input_tokens=data.get("input_tokens"),
                      warnings=list(data.get("warnings") or []), finish_reason=data.get("finish_reason"))
