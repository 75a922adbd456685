"""Prompt sets as data: JSONL files in prompts/ (id, prompt, optional category and reference)."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from judge.templates import PROMPTS_DIR
from models.errors import UserFacingError

DEFAULT_PROMPT_SET = "study"


class PromptSetError(UserFacingError):
    """A prompt set file cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class PromptItem:
    id: str
    prompt: str
    category: str = ""
    reference: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def prompt_set_path(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if path.is_file():
        return path
    candidate = PROMPTS_DIR / f"{name_or_path}.jsonl"
    if candidate.is_file():
        return candidate
    known = ", ".join(p.stem for p in sorted(PROMPTS_DIR.glob("*.jsonl")))
    raise PromptSetError(f"prompt set {str(name_or_path)!r} not found: give a .jsonl file or one of: {known}")


def load_prompt_set(name_or_path: str | Path) -> list[PromptItem]:
    """Every prompt in a JSONL set; a bad line raises PromptSetError naming the file and line number."""
    path = prompt_set_path(name_or_path)
    items: list[PromptItem] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path.name} line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PromptSetError(f"{where}: not valid JSON ({exc.msg})") from exc
        if not isinstance(row, dict) or not str(row.get("prompt") or "").strip():
            raise PromptSetError(f"{where}: each line needs a non-empty \"prompt\" field")
        item_id = str(row.get("id") or f"{path.stem}-{number}")
        if item_id in seen:
            raise PromptSetError(f"{where}: duplicate id {item_id!r}")
        seen.add(item_id)
        items.append(PromptItem(
            id=item_id, prompt=str(row["prompt"]).strip(), category=str(row.get("category") or ""),
            reference=str(row.get("reference") or ""),
        ))
    if not items:
        raise PromptSetError(f"{path.name}: no prompts in the file")
    return items


def single_prompt(text: str) -> PromptItem:
    if not (text or "").strip():
        raise PromptSetError("the prompt is empty: type an instruction or pick one of the examples")
    return PromptItem(id="prompt-1", prompt=text.strip())
