"""Prompt sets as data: JSONL or CSV files (id, prompt, optional category, reference and checks)."""
from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from analysis.checks import parse_checks
from basics import PROMPTS_DIR, UserFacingError, numbered_json_lines

DEFAULT_PROMPT_SET = "study"


class PromptSetError(UserFacingError):
    """A prompt set file cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class PromptItem:
    id: str
    prompt: str
    category: str = ""
    reference: str = ""
    checks: tuple = field(default_factory=tuple)  # raw check dicts, validated at load (see analysis/checks.py)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["checks"] = list(self.checks)
        return data


def shipped_prompt_sets() -> list[str]:
    """Names of the prompt sets in prompts/ (study, general, ...)."""
    return sorted(p.stem for p in PROMPTS_DIR.glob("*.jsonl"))


def prompt_set_path(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if path.is_file():
        return path
    candidate = PROMPTS_DIR / f"{name_or_path}.jsonl"
    if candidate.is_file():
        return candidate
    known = ", ".join(shipped_prompt_sets())
    raise PromptSetError(f"prompt set {str(name_or_path)!r} not found: give a .jsonl or .csv file or one of: {known}")


def load_prompt_set(name_or_path: str | Path) -> list[PromptItem]:
    """Every prompt in a JSONL or CSV set; a bad line raises PromptSetError naming the file and line number."""
    path = prompt_set_path(name_or_path)
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".csv":
        rows = _csv_rows(text, path.name)
    else:
        rows = numbered_json_lines(text, path.name, PromptSetError)
    return items_from_rows(rows, path)


def _csv_rows(text: str, name: str):
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "prompt" not in reader.fieldnames:
        raise PromptSetError(f"{name}: a CSV prompt set needs a header row with a 'prompt' column "
                             f"(and optionally id, category, reference, checks); found {reader.fieldnames}")
    for row in reader:
        number = reader.line_num  # the header is line 1
        if row.get("checks"):
            try:
                row["checks"] = json.loads(row["checks"])
            except json.JSONDecodeError as exc:
                raise PromptSetError(f"{name} line {number}: the checks column is not a JSON list ({exc.msg})") from exc
        yield number, row


def items_from_rows(rows, path: Path) -> list[PromptItem]:
    items: list[PromptItem] = []
    seen: set[str] = set()
    for number, row in rows:
        where = f"{path.name} line {number}"
        if not isinstance(row, dict) or not str(row.get("prompt") or "").strip():
            raise PromptSetError(f"{where}: each line needs a non-empty \"prompt\" field")
        item_id = str(row.get("id") or f"{path.stem}-{number}")
        if item_id in seen:
            raise PromptSetError(f"{where}: duplicate id {item_id!r}")
        seen.add(item_id)
        raw_checks = row.get("checks") or []
        if not isinstance(raw_checks, list):
            raise PromptSetError(f"{where}: checks must be a list of objects")
        parse_checks(raw_checks, where)  # fails now, before any model runs, naming the line
        items.append(PromptItem(
            id=item_id, prompt=str(row["prompt"]).strip(), category=str(row.get("category") or ""),
            reference=str(row.get("reference") or ""), checks=tuple(raw_checks),
        ))
    if not items:
        raise PromptSetError(f"{path.name}: no prompts in the file")
    return items


def single_prompt(text: str) -> PromptItem:
    if not (text or "").strip():
        raise PromptSetError("the prompt is empty: type an instruction or pick one of the examples")
    return PromptItem(id="prompt-1", prompt=text.strip())
