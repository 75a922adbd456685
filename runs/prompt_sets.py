"""Prompt sets as data: JSONL or CSV files (id, prompt, optional category, reference, rubric, checks and system).

An item's `system` is the system prompt both models get for that prompt, over the run's (runs/system_prompts.py).
Its `reference` is the reference answer and its `rubric` the score rubric a template's {reference} and {rubric}
take (Prometheus 2's templates: a rubric stated for this prompt, over the template's default).
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from analysis.checks import parse_checks
from basics import PROMPTS_DIR, UserFacingError, read_text_file
from models.errors import SettingsError
from runs.system_prompts import checked_system_prompt

DEFAULT_PROMPT_SET = "study"
# Python's csv module refuses a field longer than this (csv.field_size_limit). Raising that limit is process-wide
# and would race other threads of the app, and a prompt this long is far past any local model's context anyway.
MAX_CSV_FIELD_CHARS = csv.field_size_limit()
# Fields that hold text; a JSON list or object there is a mistake in the file, not a prompt.
TEXT_FIELDS = ("id", "prompt", "category", "reference", "rubric", "system")
PROMPT_LINE_EXAMPLE = '{"id": "q1", "prompt": "..."}'
CHECKS_EXAMPLE = '[{"type": "contains", "value": "42"}]'


class PromptSetError(UserFacingError):
    """A prompt set file cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class PromptItem:
    id: str
    prompt: str
    category: str = ""
    reference: str = ""
    checks: tuple = field(default_factory=tuple)  # raw check dicts, validated at load (see analysis/checks.py)
    system: str | None = None  # this prompt's system prompt for both models, over the run's; None = the run's
    rubric: str = ""  # this prompt's score rubric for the judge's {rubric}; "" = the template's own

    def to_dict(self) -> dict:
        data = asdict(self)
        data["checks"] = list(self.checks)
        return data


def shipped_prompt_sets() -> list[str]:
    """Names of the prompt sets in prompts/ (study, general, ...)."""
    return sorted(p.stem for p in PROMPTS_DIR.glob("*.jsonl"))


def prompt_set_path(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if _is_file(path):
        return path
    candidate = PROMPTS_DIR / f"{name_or_path}.jsonl"
    if _is_file(candidate):
        return candidate
    known = ", ".join(shipped_prompt_sets())
    shown = str(name_or_path) if len(str(name_or_path)) <= 200 else str(name_or_path)[:200] + "..."
    raise PromptSetError(f"prompt set {shown!r} not found: give a .jsonl or .csv file or one of: {known}")


def _is_file(path: Path) -> bool:
    # A name with a NUL byte or over the file-name limit is no file: Path.is_file raises on those instead.
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def load_prompt_set(name_or_path: str | Path) -> list[PromptItem]:
    """Every prompt in a JSONL or CSV set; a bad line raises PromptSetError naming the file and line number."""
    path = prompt_set_path(name_or_path)
    text = read_text_file(path, PromptSetError)  # UTF-8; a byte-order mark (Excel's CSVs) is dropped
    if path.suffix.lower() == ".csv":
        rows = _csv_rows(text, path.name)
    else:
        rows = _json_rows(text, path.name)
    return items_from_rows(rows, path)


def _json_rows(text: str, name: str):
    """(line number, value) of each non-blank line; a line that is not JSON names the file, the line and why."""
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            yield number, _json_value(line, f"{name} line {number}", "not valid JSON", PROMPT_LINE_EXAMPLE)


def _json_value(text: str, where: str, what: str, example: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PromptSetError(f"{where}: {what} ({exc.msg}); write it as JSON, e.g. {example}") from exc
    except RecursionError as exc:  # '[[[[...' thousands deep: the parser recurses once per level
        raise PromptSetError(f"{where}: {what} (nested too deeply to read); write it as flat JSON, "
                             f"e.g. {example}") from exc
    except ValueError as exc:  # e.g. a number of over 4,300 digits, which Python refuses to convert
        raise PromptSetError(f"{where}: {what} ({exc}); write long numbers as text in quotes") from exc


def _csv_rows(text: str, name: str):
    reader = csv.DictReader(io.StringIO(text))
    try:
        fieldnames = reader.fieldnames
        if not fieldnames or "prompt" not in fieldnames:
            found = [f[:40] for f in fieldnames or []][:20]
            raise PromptSetError(f"{name}: a CSV prompt set needs a header row with a 'prompt' column "
                                 f"(and optionally id, category, reference, rubric, checks, system); found {found}")
        for row in reader:
            number = reader.line_num  # the header is line 1
            if row.get("checks"):
                row["checks"] = _json_value(row["checks"], f"{name} line {number}",
                                            "the checks column is not a JSON list", CHECKS_EXAMPLE)
            yield number, row
    except csv.Error as exc:
        line = reader.reader.line_num  # the line being read (DictReader's own count is of finished rows)
        if "field larger than field limit" in str(exc):
            raise PromptSetError(
                f"{name} line {line}: a field is longer than {MAX_CSV_FIELD_CHARS:,} characters, the most a CSV prompt "
                "set takes; shorten it, or write the set as JSONL (one {\"prompt\": ...} object a line)") from exc
        raise PromptSetError(f"{name} line {line}: not a readable CSV row ({exc}); check its quotes") from exc


def items_from_rows(rows, path: Path) -> list[PromptItem]:
    items: list[PromptItem] = []
    seen: set[str] = set()
    for number, row in rows:
        where = f"{path.name} line {number}"
        if not isinstance(row, dict) or not str(row.get("prompt") or "").strip():
            raise PromptSetError(f"{where}: each line needs a non-empty \"prompt\" field")
        wrong = [key for key in TEXT_FIELDS if isinstance(row.get(key), (dict, list))]
        if wrong:
            raise PromptSetError(f"{where}: {', '.join(wrong)} must be text, not a JSON "
                                 f"{'object' if isinstance(row[wrong[0]], dict) else 'list'}; write it in quotes")
        item_id = str(row.get("id") or f"{path.stem}-{number}")
        if item_id in seen:
            raise PromptSetError(f"{where}: duplicate id {item_id!r}")
        seen.add(item_id)
        raw_checks = row.get("checks") or []
        if not isinstance(raw_checks, list):
            raise PromptSetError(f"{where}: checks must be a list of objects")
        parse_checks(raw_checks, where)  # fails now, before any model runs, naming the line
        try:
            system = checked_system_prompt(row.get("system"), "system")
        except SettingsError as exc:
            raise PromptSetError(f"{where}: {exc}") from exc
        items.append(PromptItem(
            id=item_id, prompt=str(row["prompt"]).strip(), category=str(row.get("category") or ""),
            reference=str(row.get("reference") or ""), checks=tuple(raw_checks), system=system,
            rubric=str(row.get("rubric") or "").strip(),
        ))
    if not items:
        raise PromptSetError(f"{path.name}: no prompts in the file")
    return items


def single_prompt(text: str) -> PromptItem:
    if not (text or "").strip():
        raise PromptSetError("the prompt is empty: type an instruction or pick one of the examples")
    return PromptItem(id="prompt-1", prompt=text.strip())
