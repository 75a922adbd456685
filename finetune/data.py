"""Training data: load a hub dataset or a local JSONL/CSV/Parquet file, detect its layout, normalise to chat.

Layouts: `messages` (role/content), ShareGPT `conversations` (from/value), `instruction`/`input`/`output`,
`prompt`/`response`. Rows that cannot be read are counted with their reason, never dropped silently. A config's
system prompt is put first in every conversation that has no system turn of its own.
"""
from __future__ import annotations

import io
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from basics import UserFacingError, read_text_file

LAYOUTS = {
    "messages": ("messages",),
    "sharegpt": ("conversations",),
    "alpaca": ("instruction", "output"),
    "prompt_response": ("prompt", "response"),
}
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "system": "system", "chatgpt": "assistant", "bing": "assistant", "bard": "assistant"}
EXPECTED = "a `messages` column (role/content), ShareGPT `conversations` (from/value), " \
           "`instruction`/`input`/`output`, or `prompt`/`response`"


class DataError(UserFacingError):
    """Training data cannot be used; the message names the source and what is expected."""


class RowError(ValueError):
    """One row cannot be turned into a chat; its message is the reason counted in the report."""


@dataclass
class DataReport:
    source: str
    layout: str
    rows: int = 0
    used: int = 0
    skipped: Counter = field(default_factory=Counter)

    def to_dict(self) -> dict:
        return {"source": self.source, "layout": self.layout, "rows": self.rows, "used": self.used,
                "skipped": dict(self.skipped)}

    def summary(self) -> str:
        text = f"{self.used} of {self.rows} rows used from {self.source} ({self.layout} layout)"
        if self.skipped:
            text += "; skipped: " + ", ".join(f"{n} {reason}" for reason, n in self.skipped.most_common())
        return text


def read_rows(source: str) -> tuple[list, Counter]:
    """Raw rows of a local file or hub dataset, and a count of lines that were not even valid records."""
    path = Path(source).expanduser()
    unreadable: Counter = Counter()
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix in (".jsonl", ".json"):
            text = read_text_file(path, DataError)
            if text.lstrip().startswith("["):  # a plain JSON array rather than JSON Lines
                try:
                    return json.loads(text), unreadable
                except json.JSONDecodeError as exc:
                    raise DataError(f"{source}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
                except RecursionError as exc:
                    raise DataError(f"{source}: its JSON is nested too deeply to be chat data") from exc
            rows = []
            for line in text.splitlines():
                if not line.strip():
                    continue
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    unreadable["invalid JSON line"] += 1
                except RecursionError:  # json's parser recurses per nesting level
                    unreadable["JSON line nested too deeply"] += 1
            return rows, unreadable
        import pandas as pd

        if suffix not in (".csv", ".parquet"):
            raise DataError(f"{source}: unsupported file type {suffix!r}; use .jsonl, .csv or .parquet")
        try:
            if suffix == ".csv":
                # parsed from the decoded text: a byte-order mark would otherwise rename the first column
                frame = pd.read_csv(io.StringIO(read_text_file(path, DataError)), dtype=str, keep_default_na=False)
            else:
                frame = pd.read_parquet(path)
        except DataError:
            raise
        except Exception as exc:  # pandas / pyarrow raise their own types for empty and corrupt files
            raise DataError(f"{source}: cannot read the file ({type(exc).__name__}: {exc})") from exc
        return frame.to_dict(orient="records"), unreadable
    if path.suffix.lower() in (".jsonl", ".json", ".csv", ".parquet") or source.startswith((".", "/", "~")):
        raise DataError(f"data file {source!r} not found")
    return _read_hub_dataset(source), unreadable


def _read_hub_dataset(dataset_id: str) -> list:
    try:
        from datasets import load_dataset
    except ImportError as exc:
        raise DataError("hub datasets need the `datasets` package: pip install datasets") from exc
    try:
        return list(load_dataset(dataset_id, split="train"))
    except Exception as exc:  # datasets raises many types (ConnectionError, FileNotFoundError, DatasetNotFoundError)
        raise DataError(
            f"could not load dataset {dataset_id!r} from the Hugging Face hub ({type(exc).__name__}): it is not in "
            "the local cache and could not be downloaded. Download it on a connected machine, or pass a local "
            ".jsonl/.csv/.parquet file"
        ) from exc


def detect_layout(rows: list) -> str:
    for row in rows[:50]:
        if isinstance(row, dict):
            for layout, columns in LAYOUTS.items():
                if all(c in row for c in columns):
                    return layout
    return ""


def _parse_json_field(value):
    # CSV files store the messages / conversations list as a JSON string.
    return json.loads(value) if isinstance(value, str) else value


def _text(value) -> str:
    """A cell as text: missing values (None, pandas' NaN) are empty; numbers become their text."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return value if isinstance(value, str) else str(value) if isinstance(value, (int, float)) else value


def to_messages(row: dict, layout: str) -> list[dict]:
    """One row as chat messages; RowError with a short reason when it cannot be."""
    if not isinstance(row, dict):
        raise RowError("row is not an object")
    try:
        if layout == "messages":
            messages = [{"role": m["role"], "content": m["content"]} for m in _parse_json_field(row["messages"])]
        elif layout == "sharegpt":
            messages = []
            for turn in _parse_json_field(row["conversations"]):
                role = SHAREGPT_ROLES.get(str(turn["from"]).lower())
                if role is None:
                    raise RowError(f"unknown ShareGPT role {turn['from']!r}")
                messages.append({"role": role, "content": turn["value"]})
        elif layout == "alpaca":
            extra = _text(row.get("input")).strip()
            user = _text(row["instruction"]).strip() + (f"\n\n{extra}" if extra else "")
            messages = [{"role": "user", "content": user}, {"role": "assistant", "content": _text(row["output"])}]
        else:
            messages = [{"role": "user", "content": _text(row["prompt"])},
                        {"role": "assistant", "content": _text(row["response"])}]
    except (KeyError, TypeError, json.JSONDecodeError, RecursionError) as exc:
        raise RowError(f"malformed {layout} row") from exc
    if any(not isinstance(m["content"], str) or not m["content"].strip() for m in messages):
        raise RowError("empty message")
    if not any(m["role"] == "assistant" for m in messages):
        raise RowError("no assistant turn")
    if any(m["role"] not in ("system", "user", "assistant") for m in messages):
        raise RowError("unknown role")
    return messages


def with_system_prompt(messages: list[dict], system_prompt: str | None) -> list[dict]:
    """`messages` with `system_prompt` first, unless it is None or the conversation has its own system turn."""
    if not system_prompt or any(m["role"] == "system" for m in messages):
        return messages
    return [{"role": "system", "content": system_prompt}, *messages]


def load_chats(source: str, max_rows: int = 0,
               system_prompt: str | None = None) -> tuple[list[list[dict]], DataReport]:
    """Every usable conversation of `source` (each with `system_prompt` where it has no system turn) and a report of
    what was skipped and why."""
    rows, unreadable = read_rows(source)
    if not rows and not unreadable:
        raise DataError(f"{source}: no rows in the data")
    layout = detect_layout(rows)
    if not layout:
        columns = sorted(rows[0].keys()) if rows and isinstance(rows[0], dict) else []
        raise DataError(f"{source}: cannot tell the data layout from columns {columns}; expected {EXPECTED}")
    if max_rows:
        rows = rows[:max_rows]
    report = DataReport(source=source, layout=layout, rows=len(rows) + sum(unreadable.values()), skipped=unreadable)
    chats = []
    for row in rows:
        try:
            chats.append(with_system_prompt(to_messages(row, layout), system_prompt))
        except RowError as exc:
            report.skipped[str(exc)] += 1
    report.used = len(chats)
    if not chats:
        raise DataError(f"{source}: none of the {report.rows} rows could be used ({report.summary()})")
    return chats, report
