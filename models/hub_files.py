"""A hub repo's file list and files: from the hub when it can be reached, else from the local Hugging Face cache (the
hub's own `models--org--name/refs/` and `snapshots/` layout under HF_HUB_CACHE), always through huggingface_hub, so
offline (HF_HUB_OFFLINE=1) only the network is missing.
"""
from __future__ import annotations

import importlib.util
import json
import socket
import threading
import time
from pathlib import Path

from models.errors import ModelLoadError, ModelSpecError
from models.hub_repos import HubChoice, RepoFiles, choose_from_files, gguf_groups, looks_like_lora, quant_of

REWARD_PREFIX = "reward:"  # the spec form of a reward model as a judge (models/spec.py reward_model_spec)

LISTING_SECONDS = 600  # a listing is reused this long in a process: pickers and checks parse the same spec often
REACHABLE_SECONDS = 60
_LISTINGS: dict[str, tuple[float, RepoFiles | None]] = {}
_REACHABLE: list = [0.0, False]
_LOCK = threading.Lock()


def cache_dir() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the hub's host answers (asked at most once a minute): the hub client's own retries took 49 s to fail
    on a machine with no network."""
    from urllib.parse import urlsplit

    from huggingface_hub import constants

    if offline():
        return False
    with _LOCK:
        if time.monotonic() - _REACHABLE[0] < REACHABLE_SECONDS:
            return _REACHABLE[1]
    endpoint = urlsplit(constants.ENDPOINT)
    try:
        socket.create_connection((endpoint.hostname, endpoint.port or 443), timeout=timeout).close()
        reachable = True
    except OSError:
        reachable = False
    with _LOCK:
        _REACHABLE[:] = [time.monotonic(), reachable]
    return reachable


def repo_folder(repo_id: str, root: Path | None = None) -> Path | None:
    """The cache folder of a model repo; hub ids are case-insensitive, so is this lookup."""
    root = root or cache_dir()
    exact = root / ("models--" + repo_id.replace("/", "--"))
    if exact.is_dir():
        return exact
    wanted = exact.name.lower()
    try:
        return next((p for p in root.iterdir() if p.name.lower() == wanted and p.is_dir()), None)
    except OSError:
        return None


def cached_repo_files(repo_id: str, root: Path | None = None) -> RepoFiles | None:
    """The files of a repo's cached snapshot (the commit refs/main names, else the newest snapshot), or None when the
    repo is not in the cache. A file whose download never finished (a dangling link) is not listed."""
    folder = repo_folder(repo_id, root)
    if folder is None:
        return None
    ref = folder / "refs" / "main"
    snapshots = folder / "snapshots"
    commit = ref.read_text(encoding="utf-8").strip() if ref.is_file() else None
    if not commit or not (snapshots / commit).is_dir():
        found = sorted(snapshots.iterdir(), key=lambda p: p.stat().st_mtime) if snapshots.is_dir() else []
        if not found:
            return None
        commit = found[-1].name
    snapshot = snapshots / commit
    sizes = {p.relative_to(snapshot).as_posix(): p.stat().st_size for p in snapshot.rglob("*") if p.is_file()}
    canonical = folder.name[len("models--"):].replace("--", "/", 1)
    return RepoFiles(repo_id=canonical, revision=commit, sizes=sizes, source="cache") if sizes else None


def hub_repo_files(repo_id: str) -> RepoFiles:
    """The repo's files at its newest commit, read from the hub."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    try:
        info = HfApi().model_info(repo_id, files_metadata=True, timeout=10)
    except GatedRepoError as exc:
        raise ModelSpecError(f"{repo_id} is gated: accept its terms on huggingface.co, then log in "
                             "(`hf auth login` or $HF_TOKEN)") from exc
    except RepositoryNotFoundError as exc:
        raise ModelSpecError(f"there is no model {repo_id!r} on the hub: check the spelling (org/name); a private "
                             "repo needs `hf auth login` or $HF_TOKEN") from exc
    sizes = {s.rfilename: s.size for s in info.siblings or []}
    return RepoFiles(repo_id=info.id or repo_id, revision=info.sha, sizes=sizes, source="hub")


def list_repo(repo_id: str) -> RepoFiles | None:
    """The repo's files: from the hub when it answers, else from the cache; None when neither has it (offline and not
    cached), and then the loader says what to do."""
    with _LOCK:
        stamp, listing = _LISTINGS.get(repo_id.lower(), (0.0, None))
        if listing is not None and time.monotonic() - stamp < LISTING_SECONDS:
            return listing
    listing = None
    if hub_reachable():
        try:
            listing = hub_repo_files(repo_id)
        except ModelSpecError:
            raise
        except Exception:  # the network failed mid-way (timeouts, 5xx): what the cache holds is still usable
            listing = None
    listing = listing or cached_repo_files(repo_id)
    with _LOCK:
        _LISTINGS[repo_id.lower()] = (time.monotonic(), listing)
    return listing


def forget_listings() -> None:
    """Drop the remembered listings and reachability (tests that build a cache replica, a user who downloaded)."""
    with _LOCK:
        _LISTINGS.clear()
        _REACHABLE[:] = [0.0, False]


def download(choice: HubChoice, filename: str | None = None) -> Path:
    """A file of the chosen repo (default: the chosen GGUF, every part of a split one) through huggingface_hub's cache:
    downloaded when online, read from the cache offline. ModelLoadError naming the fix when it cannot be had."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    names = [filename] if filename else list(choice.parts or (choice.file,))
    paths = []
    for name in names:
        try:
            paths.append(Path(hf_hub_download(choice.repo_id, name, revision=choice.revision)))
        except LocalEntryNotFoundError as exc:
            why = "offline mode (HF_HUB_OFFLINE) forbids downloading" if offline() else "the hub cannot be reached"
            raise ModelLoadError(f"{choice.repo_id}/{name} is not in the local Hugging Face cache and {why}: download "
                                 f"it on a connected machine (`hf download {choice.repo_id} {name}`) or copy the "
                                 "cache here") from exc
        except EntryNotFoundError as exc:
            raise ModelLoadError(f"{choice.repo_id} has no file {name!r} at revision {choice.revision}: name "
                                 "another file") from exc
        except OSError as exc:
            raise ModelLoadError(f"could not download {choice.repo_id}/{name} ({exc}): check the disk space of "
                                 f"{cache_dir()} or set $HF_HUB_CACHE") from exc
    return paths[0]


def read_adapter_config(choice: HubChoice) -> dict:
    """An adapter repo's adapter_config.json as a dict; ModelSpecError when it is unreadable."""
    try:
        path = download(choice, "adapter_config.json")
        value = json.loads(path.read_text(encoding="utf-8"))
    except ModelLoadError as exc:
        raise ModelSpecError(str(exc)) from exc
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelSpecError(f"{choice.repo_id}'s adapter_config.json cannot be read ({type(exc).__name__}): the "
                             "adapter repo is damaged") from exc
    if not isinstance(value, dict):
        raise ModelSpecError(f"{choice.repo_id}'s adapter_config.json is not a JSON object: the repo is damaged")
    return value


def bitsandbytes_runnable() -> bool:
    """Whether a bitsandbytes 4-bit model can run here: bitsandbytes installed and a CUDA GPU present (torch is only
    imported where bitsandbytes is installed)."""
    if importlib.util.find_spec("bitsandbytes") is None:
        return False
    import torch

    return torch.cuda.is_available()


def holds_sequence_classifier(files: RepoFiles, root: Path | None = None) -> bool:
    """Whether a cached repo's config.json names only *ForSequenceClassification architectures: a reward model, which
    the pickers offer as reward:org/name. One small file read per cached repo."""
    folder = repo_folder(files.repo_id, root)
    if folder is None or "config.json" not in files.sizes:
        return False
    try:
        config = json.loads((folder / "snapshots" / files.revision / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    architectures = config.get("architectures") if isinstance(config, dict) else None
    return isinstance(architectures, list) and bool(architectures) and \
        all(str(a).endswith("ForSequenceClassification") for a in architectures)


def cached_hub_models(root: Path | None = None) -> list[str]:
    """Hub ids of the model repos in the local cache that hold something loadable (config.json, adapter_config.json
    or a GGUF file), for the pickers; a reward model (a sequence classifier) as reward:org/name, the spec that loads
    it as a judge (models/backends/reward_model.py)."""
    root = root or cache_dir()
    try:
        folders = sorted(p for p in root.glob("models--*--*") if p.is_dir())
    except OSError:
        return []
    found = []
    for folder in folders:
        files = cached_repo_files(folder.name[len("models--"):].replace("--", "/", 1), root)
        if files is None:
            continue
        try:
            choice = choose_from_files(files)
        except ModelSpecError:
            continue  # nothing loadable on its own (a GGUF LoRA repo is named as BASE+ADAPTER)
        found.append(REWARD_PREFIX + files.repo_id if holds_sequence_classifier(files, root) else files.repo_id)
        models = [first for first in gguf_groups(files) if not looks_like_lora(first)]
        if choice.kind == "gguf" and len(models) > 1:  # each cached quantization, as llama.cpp's -hf names it
            found += [f"{files.repo_id}:{quant}" for quant in dict.fromkeys(filter(None, map(quant_of, models)))]
    return found
