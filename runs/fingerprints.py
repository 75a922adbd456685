"""The files that make a model what it is (adapter weights and config, GGUF files, local base weights, a scripted
model's replies), fingerprinted for run.json: path, size and sha256, so a run can be repeated and checked.

Adapters and other small files are hashed on every run: they are what people retrain and overwrite, and a LoRA is a few
MB (milliseconds). Base weights are large (the embedded GGUF is 98 MB, 0.3 s; an 8B model is GBs), so their hash is
cached by (path, size, modification time) in the model cache: the first run pays once, later runs read it back. The
embedded transformers model is fingerprinted by the GGUF it is converted from, and a hub model by the commit its
weights came from (the backend's `revision`), which the hub already makes content-addressed.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

from basics import UserFacingError, cache_rebuilt, read_json, write_json_atomic
from models.adapter_files import ADAPTER_CONFIG, META_FILE, adapter_weight_file
from models.embedded import EMBEDDED_MODELS, cache_root, embedded_gguf_path
from models.spec import HEAD_PREFIX, SCRIPTED_PREFIX, ModelSpec

ALWAYS_HASHED = 64 * 2**20  # bytes: files up to this size are hashed every run, larger ones through the cache
HASH_CACHE = "file_hashes.json"
HASHES_DAMAGED = "the cache of model file hashes ({}) was damaged: the hashes it held are computed afresh"
SHA256 = re.compile(r"[0-9a-f]{64}")
BASE_WEIGHTS = ("*.safetensors", "*.bin", "*.gguf")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def fingerprint(path: str | Path, role: str) -> dict:
    """{role, path, size, sha256} of one file; large files' hashes come from the cache while unchanged."""
    path = Path(path).resolve()
    stat = path.stat()
    entry = {"role": role, "path": str(path), "size": stat.st_size}
    if stat.st_size <= ALWAYS_HASHED:
        return {**entry, "sha256": sha256_of(path)}
    cache_file = cache_root() / HASH_CACHE
    cache = read_json(cache_file)
    if cache is None and cache_file.exists():  # cut short or garbage: started afresh, and written whole below
        cache_rebuilt(HASHES_DAMAGED.format(cache_file))
    cache = cache or {}
    key = f"{path}|{stat.st_size}|{stat.st_mtime_ns}"
    if key in cache and not SHA256.fullmatch(str(cache[key])):  # never a damaged hash in run.json: hashed again
        cache_rebuilt(HASHES_DAMAGED.format(cache_file))
        del cache[key]
    if key not in cache:
        cache[key] = sha256_of(path)
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(cache_file, cache)
        except OSError:  # a read-only cache only costs the next run the same hashing
            pass
    return {**entry, "sha256": cache[key]}


def model_files(spec: ModelSpec) -> list[dict]:
    """Fingerprints of the files behind a model spec: its adapter's, then its base's (none for served models and
    hub ids, whose identity is their name and revision)."""
    found: list[tuple[Path, str]] = []
    if spec.adapter_kind == "local":
        folder = Path(spec.adapter)
        weights = adapter_weight_file(folder)
        found += [(p, "adapter") for p in (weights, folder / ADAPTER_CONFIG, folder / META_FILE) if p and p.is_file()]
    elif spec.adapter_kind == "gguf-lora":
        found.append((Path(spec.adapter), "adapter"))
    alias = spec.embedded_alias
    if alias:
        found.append((embedded_gguf_path(EMBEDDED_MODELS[alias]), "base"))
    elif spec.base_kind == "gguf":
        found.append((Path(spec.base), "base"))
    elif spec.base_kind == "local":
        folder = Path(spec.base)
        found += [(p, "base") for pattern in ("config.json", *BASE_WEIGHTS) for p in sorted(folder.glob(pattern))]
    elif spec.base_kind == "scripted" and spec.base.startswith(SCRIPTED_PREFIX + "@"):
        found.append((Path(spec.base[len(SCRIPTED_PREFIX) + 1:]).expanduser(), "replies"))
    elif spec.base_kind == "reward" and spec.base_hub is None:  # a reward model's folder; by hub id, its commit
        folder = Path(spec.base)
        found += [(p, "base") for pattern in ("config.json", *BASE_WEIGHTS) for p in sorted(folder.glob(pattern))]
    elif spec.base_kind == "head":
        folder = Path(spec.base[len(HEAD_PREFIX):])
        found += [(p, "head") for p in sorted(folder.glob("*")) if p.is_file() and p.suffix in (".npz", ".json")]
    return [fingerprint(path, role) for path, role in found if path.is_file()]


def describe_model(backend) -> dict:
    """A loaded backend's description for run.json, with the fingerprints of its files."""
    try:
        files = model_files(backend.spec)
    except (OSError, UserFacingError) as exc:  # a file gone since the model loaded: say so rather than stop the run
        files = [{"error": f"could not fingerprint the model's files: {exc}"}]
    return {**backend.describe(), "files": files}


ROLE_NAMES = {"model_a": "model A", "model_b": "model B", "judge": "judge"}


def _identity(described: dict) -> tuple:
    """What makes a described model the same model: its spec, its files' hashes, and for a hub model the repo, file
    and commit (not where the listing was read)."""
    hub = {role: {k: v for k, v in choice.items() if k != "listed_from"}
           for role, choice in (described.get("hub") or {}).items()}
    hashes = sorted((f.get("role"), f.get("sha256")) for f in described.get("files") or [] if "sha256" in f)
    return described.get("spec"), hashes, sorted(hub.items(), key=lambda kv: kv[0])


def model_changes(recorded: dict, current: dict) -> list[str]:
    """Roles whose model is not what the run began with (a file retrained or overwritten, a hub repo at a newer
    commit), each said in words: a resumed run's later records come from other weights than its first ones."""
    changes = []
    for role in ROLE_NAMES:
        before, now = recorded.get(role), current.get(role)
        if not before or not now or _identity(before) == _identity(now):
            continue
        revisions = [(c.get("revision") or "?")[:12] for c in ((before.get("hub") or {}).get("base") or {},
                                                              (now.get("hub") or {}).get("base") or {})]
        moved = f" (commit {revisions[0]} then, {revisions[1]} now)" if revisions[0] != revisions[1] else ""
        changes.append(f"{ROLE_NAMES[role]}: its files have changed since this run began{moved}, so the "
                       "records made from now on come from other weights than the earlier ones; start a new run to "
                       "compare like with like")
    return changes
