"""Shared basics every package may use: the user-facing error type, project paths read per call, safe JSON files.

This module sits below every package (basics ← models ← judge ← analysis ← runs ← dashboard ← ui) and imports
none of them.
"""
from __future__ import annotations

import codecs
import functools
import json
import os
import secrets
import tempfile
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent
PROMPTS_DIR = REPO_ROOT / "prompts"
SHIPPED_JUDGES_DIR = REPO_ROOT / "adapters" / "shipped"  # judges trained by the project, in the repo
# Where a Hugging Face Space keeps files across restarts: its former persistent disk was mounted here, and a Storage
# Bucket attached to the Space is mounted where its owner says (here, by this default). $LLM_JUDGE_PERSISTENT_DIR
# names another folder (tests use a temporary one).
DEFAULT_PERSISTENT_DIR = "/data"


class UserFacingError(Exception):
    """Base for errors whose message is shown to the user as is (a gr.Error in the app, one line in the CLI)."""


def results_dir() -> Path:
    """Where run folders go (and with them people's votes and the judge cache): $LLM_JUDGE_RESULTS; else results/ in
    the persistent storage of a Space that has it, so they outlive a restart; else ./results in the repo. Read per
    call, so a test (or a user) may point the app elsewhere after import."""
    if os.environ.get("LLM_JUDGE_RESULTS"):
        return Path(os.environ["LLM_JUDGE_RESULTS"])
    persistent = persistent_dir()
    return persistent / "results" if persistent else REPO_ROOT / "results"


def persistent_dir() -> Path | None:
    """Storage that survives a restart: $LLM_JUDGE_PERSISTENT_DIR (default /data) when it is a folder this process
    can write in; None elsewhere (a laptop, a Space without storage, a read-only mount)."""
    root = os.environ.get("LLM_JUDGE_PERSISTENT_DIR") or DEFAULT_PERSISTENT_DIR
    return Path(root) if writable_folder(root) else None


@functools.lru_cache(maxsize=16)
def writable_folder(path: str) -> bool:
    """Whether a file can be made in the folder `path`, tried with a real temporary file: permission bits do not tell
    (root ignores them, a read-only mount does not show in them). Remembered per path, as results_dir() asks on
    every call and on a mounted bucket each try is a round trip over the network."""
    if not os.path.isdir(path):
        return False
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError:
        return False
    return True


def use_persistent_hf_home() -> Path | None:
    """Point $HF_HOME (the Hugging Face libraries' downloads: hub models, datasets) into the persistent storage when
    there is some and $HF_HOME is not set, so a restarted Space does not download them again; the folder set, or
    None. Call it before anything imports huggingface_hub, which reads $HF_HOME once, when imported."""
    persistent = persistent_dir()
    if os.environ.get("HF_HOME") or persistent is None:
        return None
    os.environ["HF_HOME"] = str(persistent / ".huggingface")
    return Path(os.environ["HF_HOME"])


def adapters_dir() -> Path:
    """Where fine-tuned adapters are looked up by name: $LLM_JUDGE_ADAPTERS, else ./adapters in the repo."""
    return Path(os.environ.get("LLM_JUDGE_ADAPTERS") or REPO_ROOT / "adapters")


def templates_dir() -> Path:
    """Where templates written in the Judge Lab are saved: $LLM_JUDGE_TEMPLATES, else prompts/ (beside the shipped)."""
    return Path(os.environ.get("LLM_JUDGE_TEMPLATES") or PROMPTS_DIR)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def append_jsonl(path: str | Path, data: dict) -> None:
    """Append one JSON line, flushed and fsynced: a crash afterwards keeps it."""
    line = json.dumps(data, ensure_ascii=False)
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


def write_jsonl_rows(path: str | Path, rows: list[dict]) -> Path:
    """A whole JSONL file at once (its folder made as needed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def read_jsonl(path: str | Path) -> Iterator[dict]:
    """Every complete JSON object line of a file; a torn line (a crash mid-write) is skipped, not fatal."""
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            yield value


def numbered_json_lines(text: str, name: str, error: type[Exception]) -> Iterator[tuple[int, object]]:
    """(line number, value) of each non-blank JSON line of a file the user wrote; a line that is not JSON raises
    `error` naming the file and the line (unlike read_jsonl, which skips what a crash may have torn)."""
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            raise error(f"{name} line {number}: not valid JSON ({exc.msg})") from exc
        except (RecursionError, ValueError) as exc:  # nested past Python's limit, or an integer of 4,300+ digits
            raise error(f"{name} line {number}: JSON nested too deeply or holding a number too long to read; "
                        "flatten the line") from exc


def read_text_file(path: Path, error: type[Exception]) -> str:
    """A UTF-8 text file the user wrote (a byte-order mark, as Excel and Notepad write, is dropped); `error` names
    the file and where its first byte that is not UTF-8 is, when it is not UTF-8 or cannot be read."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise error(f"{path}: cannot be read ({exc.strerror or exc}); check the path and its permissions") from exc
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[bom:].decode("utf-8")
    except UnicodeDecodeError as exc:
        start = bom + exc.start
        line = data.count(b"\n", 0, start) + 1
        raise error(f"{path}: not UTF-8 text (byte {start}, line {line}: {data[start:start + 1]!r}); "
                    "save the file as UTF-8 and load it again") from exc


def drop_torn_last_line(path: str | Path) -> None:
    """A crash mid-write can leave half a line; appending after it would glue two lines together."""
    path = Path(path)
    if not path.is_file():
        path.touch()
        return
    text = path.read_text(encoding="utf-8")
    if text and not text.endswith("\n"):
        path.write_text(text[: text.rfind("\n") + 1], encoding="utf-8")


def make_unique_folder(parent: str | Path, name: str) -> Path:
    """A new folder `name` under `parent` (made if missing), or `name-2`, `name-3`... when it exists: two runs in the
    same second, perhaps in two threads of the app, each get their own, because mkdir decides atomically."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    folder, suffix = parent / name, 1
    while True:
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            suffix += 1
            folder = parent / f"{name}-{suffix}"


def write_atomic(path: str | Path, write: Callable) -> Path:
    """Make `path` by `write(binary file)` into a temporary sibling renamed over it: a kill mid-write leaves the old
    file or none, never half of one, and a failed write leaves no temporary file."""
    path = Path(path)
    # A name of its own per writer (not path + ".tmp"): two processes writing one file must not share a half file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: str | Path, data: dict) -> None:
    """Write JSON to a temporary sibling and rename it: a reader never sees half a file."""
    text = json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8")
    write_atomic(path, lambda f: f.write(text))


_cache_notices: dict[str, bool] = {}  # notice -> handed out yet; each cache is said damaged once per process
_cache_lock = threading.Lock()


def cache_rebuilt(notice: str) -> None:
    """Note that a damaged cache was set aside and is being rebuilt (its entries computed afresh); the notice waits
    for take_cache_notices(), which hands it out once per process however often the cache is found damaged."""
    with _cache_lock:
        _cache_notices.setdefault(notice, False)


def take_cache_notices() -> list[str]:
    """The cache notices not handed out yet (a run puts them on its next record, as it does a busy machine)."""
    with _cache_lock:
        fresh = [notice for notice, said in _cache_notices.items() if not said]
        _cache_notices.update(dict.fromkeys(fresh, True))
    return fresh


def read_json(path: str | Path) -> dict | None:
    """A JSON object file, or None when it is missing or unreadable."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return value if isinstance(value, dict) else None


def check_utf8_arguments(values: dict, flag_names: dict | None = None, fix: str = "") -> None:
    """Refuse a command-line argument holding bytes that are not UTF-8 (Python keeps them as lone surrogates): they
    could not be written to a run's or checkpoint's files, and would fail there, after the models had loaded.
    `values` maps argparse dests to values; `flag_names` overrides the flag shown for a dest."""
    for dest, value in values.items():
        for text in value if isinstance(value, list) else [value]:
            if not isinstance(text, str):
                continue
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as exc:
                code = ord(text[exc.start])
                byte = f"byte 0x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"U+{code:04X}"
                flag = (flag_names or {}).get(dest, "--" + dest.replace("_", "-"))
                raise UserFacingError(f"{flag} holds text that is not UTF-8 ({byte} at character {exc.start + 1}): "
                                      f"set your terminal to UTF-8 and type it again{fix}") from None
