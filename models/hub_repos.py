"""What a Hugging Face hub id names, decided by what the repo holds: a transformers model, a LoRA adapter on its base,
or GGUF files for llama.cpp, one picked the way llama.cpp's `-hf org/repo:QUANT` and Ollama's `hf.co/org/repo:QUANT`
pick one.

The rules (`choose_from_files`) are pure and read only a file list; the list comes from the hub when it can be reached
(models/hub_files.py), else from the local Hugging Face cache, so a cache replica built in a test runs the same rules
and the same download code as a user's hub.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from models.errors import ModelSpecError

HubKind = Literal["transformers", "adapter", "gguf"]
# `org/repo`, `org/repo:QUANT`, `org/repo/path/file.gguf`; Ollama's and the hub's URL prefixes are accepted and dropped.
_NAME = r"[A-Za-z0-9][\w.-]*"
HUB_REFERENCE = re.compile(rf"^(?P<repo>{_NAME}/{_NAME})(?::(?P<quant>[\w.-]+)|/(?P<file>[^:]+\.gguf))?$",
                           re.IGNORECASE)
URL_PREFIXES = ("hf.co/", "huggingface.co/", "https://huggingface.co/", "https://hf.co/")
# llama.cpp's quantization tags as they appear in file names: Q4_K_M, IQ4_XS, Q8_0, F16, BF16, F32, UD-Q4_K_XL, ...
_QUANT_TAG = re.compile(r"(?:^|[-_.])((?:UD-)?I?Q\d(?:_[A-Z0-9]+)*|BF16|F16|FP16|F32)(?=[-_.])", re.IGNORECASE)
_SPLIT_PART = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)
DEFAULT_QUANT = "Q4_K_M"  # llama.cpp's `-hf` default and what Unsloth's guides publish first
TRANSFORMERS_WEIGHTS = (".safetensors", ".bin", ".pt", ".pth")


@dataclass(frozen=True)
class RepoFiles:
    """A repo's files at one commit: path in the repo -> size in bytes (None where unknown)."""

    repo_id: str
    revision: str | None
    sizes: dict[str, int | None]
    source: Literal["hub", "cache"] = "hub"

    @property
    def names(self) -> list[str]:
        return sorted(self.sizes)


@dataclass(frozen=True)
class HubChoice:
    """What a hub id was resolved to, recorded in the spec and the run manifest."""

    kind: HubKind
    repo_id: str
    revision: str | None
    file: str | None = None  # the GGUF file (a split file's first part)
    parts: tuple[str, ...] = ()  # every file of a split GGUF, first part included
    source: str = "hub"  # where the file list was read: the hub, or the local cache
    notices: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        data = {"repo": self.repo_id, "kind": self.kind, "revision": self.revision, "listed_from": self.source}
        if self.file:
            data["file"] = self.file
        if len(self.parts) > 1:
            data["parts"] = list(self.parts)
        return data


def split_hub_reference(text: str) -> tuple[str, str | None, str | None] | None:
    """(repo id, quantization, file) of a hub reference, or None when `text` is not one."""
    for prefix in URL_PREFIXES:
        if text.lower().startswith(prefix):
            text = text[len(prefix):]
            break
    match = HUB_REFERENCE.match(text)
    # 'folder/model.gguf' is a local file's path (missing or not), never a repo named 'model.gguf'
    if not match or text.startswith((".", "/")) or (not match["file"] and match["repo"].lower().endswith(".gguf")):
        return None
    quant = None if (match["quant"] or "").lower() == "latest" else match["quant"]  # Ollama's tag for "the default"
    return match["repo"], quant, match["file"]


def quant_of(filename: str) -> str | None:
    """The quantization tag in a GGUF file's name ('unsloth.Q4_K_M.gguf' -> 'Q4_K_M'), upper-cased; the last tag
    wins ('Llama-3.2-3B-Instruct-Q4_K_M.gguf' holds a 3B and a Q4_K_M: only one matches the pattern)."""
    tags = _QUANT_TAG.findall(_SPLIT_PART.sub(".gguf", filename.rsplit("/", 1)[-1]))
    return tags[-1].upper() if tags else None


def gguf_groups(files: RepoFiles) -> dict[str, tuple[str, ...]]:
    """GGUF files as llama.cpp loads them: a split file's parts under its first part. Vision projectors (mmproj) are
    left out: they are not language models."""
    groups: dict[str, list[str]] = {}
    for name in files.names:
        if not name.lower().endswith(".gguf") or "mmproj" in name.lower():
            continue
        split = _SPLIT_PART.search(name)
        key = name[: split.start()] if split else name
        groups.setdefault(key, []).append(name)
    return {sorted(parts)[0]: tuple(sorted(parts)) for parts in groups.values()}


def _group_size(files: RepoFiles, parts: tuple[str, ...]) -> float:
    sizes = [files.sizes.get(p) for p in parts]
    return float("inf") if any(s is None for s in sizes) else sum(sizes)


def choose_from_files(files: RepoFiles, quant: str | None = None, file: str | None = None) -> HubChoice:
    """The rules, in order: a named file; a named quantization; a transformers model (config.json and weights); a
    LoRA adapter (adapter_config.json); GGUF files (Q4_K_M if present, else the smallest, with a notice naming the
    others). ModelSpecError naming what was found and the fix when nothing fits."""
    repo, names = files.repo_id, files.names
    ggufs = gguf_groups(files)
    made = dict(repo_id=repo, revision=files.revision, source=files.source)
    if file:
        for first, parts in ggufs.items():
            if file in parts:
                return HubChoice("gguf", file=first, parts=parts, **made)
        raise ModelSpecError(f"{repo} has no file {file!r}: {_gguf_listing(repo, ggufs, names)}")
    if quant:
        if not ggufs:
            raise ModelSpecError(f"{repo} holds no GGUF files, so ':{quant}' picks nothing: "
                                 f"{_what_it_is(repo, names)}")
        matching = [first for first in ggufs if quant_of(first) == quant.upper()]
        if not matching:  # llama.cpp's -hf also takes a tag that only appears inside the name
            matching = [first for first in ggufs if quant.lower() in first.lower()]
        if not matching:
            raise ModelSpecError(f"{repo} has no {quant} file: {_gguf_listing(repo, ggufs, names)}")
        picked = min(matching, key=lambda first: (len(first), first))
        notices = () if len(matching) == 1 else (
            f"{repo}: {len(matching)} files match {quant}; picked {picked} (name another as {repo}/FILE)",)
        return HubChoice("gguf", file=picked, parts=ggufs[picked], notices=notices, **made)
    if "config.json" in names and any(n.endswith(TRANSFORMERS_WEIGHTS) and "/" not in n for n in names):
        return HubChoice("transformers", **made)
    if "adapter_config.json" in names:
        notices = (f"{repo} also holds GGUF files ({', '.join(_labels(ggufs))}): name {repo}:QUANT to run one on "
                   "llama.cpp instead",) if ggufs else ()
        return HubChoice("adapter", notices=notices, **made)
    models = {first: parts for first, parts in ggufs.items() if not looks_like_lora(first)}
    if ggufs and not models:
        raise ModelSpecError(f"{repo} holds only GGUF LoRA adapters ({', '.join(ggufs)}): name it as BASE+{repo} "
                             "with a GGUF base model")
    if models:
        ggufs = models
        by_quant = [first for first in ggufs if quant_of(first) == DEFAULT_QUANT]
        picked = min(by_quant or ggufs, key=lambda first: (_group_size(files, ggufs[first]), first))
        by_size = sorted(ggufs, key=lambda first: (_group_size(files, ggufs[first]), first))
        others = [quant_of(first) or first for first in by_size if first != picked]
        why = f"{DEFAULT_QUANT}, llama.cpp's default" if by_quant else "the smallest file"
        notices = (f"{repo}: picked {picked} ({why}); also here: {', '.join(others)}. Name one as {repo}:QUANT or "
                   f"{repo}/FILE",) if others else ()
        return HubChoice("gguf", file=picked, parts=ggufs[picked], notices=notices, **made)
    raise ModelSpecError(f"{repo} holds no model this app can load: {_what_it_is(repo, names)}")


def choose_gguf_lora(files: RepoFiles, quant: str | None = None, file: str | None = None) -> HubChoice:
    """The GGUF LoRA file of an adapter repo for a llama.cpp base: the named file or quantization, the only GGUF file,
    or the one whose name says LoRA or adapter. (Which file is an adapter is checked on the downloaded file.)"""
    ggufs = gguf_groups(files)
    if file or quant:
        return choose_from_files(files, quant=quant, file=file)
    if not ggufs:
        raise ModelSpecError(f"{files.repo_id} holds no GGUF file, and a llama.cpp base takes its adapter as a GGUF "
                             f"LoRA: {_what_it_is(files.repo_id, files.names)}")
    named = [first for first in ggufs if looks_like_lora(first)]
    candidates = list(ggufs) if len(ggufs) == 1 else named
    if len(candidates) != 1:
        raise ModelSpecError(f"{files.repo_id} holds several GGUF files ({', '.join(ggufs)}): name the LoRA as "
                             f"{files.repo_id}/FILE")
    picked = candidates[0]
    return HubChoice("gguf", repo_id=files.repo_id, revision=files.revision, file=picked, parts=ggufs[picked],
                     source=files.source)


def looks_like_lora(filename: str) -> bool:
    """A GGUF file named as a LoRA adapter (the header says for sure, and is checked once the file is here)."""
    return re.search(r"lora|adapter", filename.rsplit("/", 1)[-1], re.IGNORECASE) is not None


def _labels(ggufs: dict[str, tuple[str, ...]]) -> list[str]:
    return [quant_of(first) or first for first in ggufs]


def _gguf_listing(repo: str, ggufs: dict[str, tuple[str, ...]], names: list[str]) -> str:
    if not ggufs:
        return _what_it_is(repo, names)
    quants = sorted({q for q in map(quant_of, ggufs) if q})
    quant_part = f"quantizations found: {', '.join(quants)} (name one as {repo}:{quants[0]}); " if quants else ""
    return f"{quant_part}GGUF files: {', '.join(ggufs)} (name one as {repo}/FILE)"


def _what_it_is(repo: str, names: list[str]) -> str:
    shown = ", ".join(names[:12]) + (f" and {len(names) - 12} more" if len(names) > 12 else "")
    if "config.json" in names:
        return f"it is a transformers model ({shown}): name it as {repo}"
    if "adapter_config.json" in names:
        return f"it is a LoRA adapter ({shown}): name it as {repo}, or BASE+{repo}"
    return (f"it holds {shown or 'no files'}; a model needs config.json and weights, adapter_config.json, or .gguf "
            "files")


def full_precision_twin(repo_id: str) -> str | None:
    """The full-precision repo of a bitsandbytes 4-bit one by Unsloth's naming (`unsloth/X-bnb-4bit` and
    `unsloth/X-unsloth-bnb-4bit` -> `unsloth/X`), or None when the name does not follow it."""
    for suffix in ("-unsloth-bnb-4bit", "-bnb-4bit"):
        if repo_id.lower().endswith(suffix):
            return repo_id[: -len(suffix)]
    return None
