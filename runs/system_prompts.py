"""System prompts for Model A and B: which one a prompt gets, and the one way their conversations are built.

A prompt gets, first found: its prompt set item's own `system`, the run's for that side (`system_a` / `system_b`),
the one its fine-tuned adapter's meta.json records (it was trained with it and answers differently without it; a
notice says it was used), else none. None sends no system message, so the model's chat template decides (SmolLM2's
inserts its own default); the record says null. The judge never gets it: it grades the answer to the prompt.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from models.errors import SettingsError
from models.spec import parse_model_spec

# An instruction, not a document: past this the text belongs in the prompt (and no local model here reads that much;
# SmolLM2's context window is 8,192 tokens).
MAX_SYSTEM_CHARS = 50_000
_SHOWN = 80  # characters of an adapter's recorded system prompt quoted in the notice


def checked_system_prompt(value: object, what: str) -> str | None:
    """`value` as a system prompt: None for none or blank; SettingsError for what is not text or far too long."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise SettingsError(f"{what} must be text, got {type(value).__name__}: write it in quotes")
    if not value.strip():
        return None
    if len(value) > MAX_SYSTEM_CHARS:
        raise SettingsError(f"{what} has {len(value):,} characters, more than {MAX_SYSTEM_CHARS:,}: shorten it, or "
                            "put the long text in the prompt")
    return value


def conversation(prompt: str, system: str | None = None) -> list[dict]:
    """The messages Model A or B reads: the system prompt first when one applies, then the prompt."""
    head = [{"role": "system", "content": system}] if system else []
    return [*head, {"role": "user", "content": prompt}]


def recorded_system_prompt(spec_text: str) -> str | None:
    """The system prompt a local adapter was trained with, from its checkpoint's meta.json (finetune/checkpoints.py);
    None where it records none."""
    spec = parse_model_spec(spec_text)
    if spec.adapter_kind == "local":
        folder = Path(spec.adapter)
    elif spec.adapter_kind == "gguf-lora":
        folder = Path(spec.adapter).parent  # a GGUF twin is written into its checkpoint's folder
    else:
        return None
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # no meta.json: an adapter trained elsewhere records nothing
        return None
    value = meta.get("system_prompt") if isinstance(meta, dict) else None
    return value if isinstance(value, str) and value.strip() else None


@dataclass(frozen=True)
class SystemPrompts:
    """The system prompt each side gets in a run where a prompt brings none of its own, and notices about them."""

    A: str | None = None
    B: str | None = None
    notices: tuple[str, ...] = ()  # sides given their adapter's recorded system prompt

    def applied(self, side: str, own: str | None = None) -> str | None:
        """The system prompt side "A" or "B" gets for a prompt whose item brings `own` (it wins)."""
        return own or getattr(self, side)

    def messages(self, side: str, item) -> list[dict]:
        return conversation(item.prompt, self.applied(side, item.system))

    def record_fields(self, item) -> dict:
        """A record's `system_a` / `system_b`: what each model got, None where it got none."""
        return {"system_a": self.applied("A", item.system), "system_b": self.applied("B", item.system)}

    def item_notices(self, item) -> list[str]:
        return [] if item.system else list(self.notices)


def run_system_prompts(config) -> SystemPrompts:
    """Each side's system prompt in a run: the one given, else the one its adapter was trained with."""
    chosen, notices = {}, []
    for side, spec, given in (("A", config.model_a, config.system_a), ("B", config.model_b, config.system_b)):
        recorded = None if given else recorded_system_prompt(spec)
        chosen[side] = given or recorded
        if recorded:
            shown = recorded if len(recorded) <= _SHOWN else recorded[:_SHOWN] + "…"
            notices.append(f"model {side} was trained with a system prompt and none was given for it: the one its "
                           f"adapter records is used ({shown!r})")
    return SystemPrompts(chosen["A"], chosen["B"], tuple(notices))
