"""A PEFT LoRA adapter folder checked in Python before PEFT opens it: a readable adapter_config.json (and meta.json),
and weights that are there, not empty, and whole (a safetensors header whose tensors fit in the file).

Without these checks PEFT takes a folder without weights for a hub repo id ("Repo id must be in the form ..."), and
a cut or empty weights file ends in safetensors' own error type; each case here gets a message naming the file and
the fix instead, before any model loads.
"""
from __future__ import annotations

import json
import struct
from pathlib import Path

from basics import adapters_dir
from models.errors import ModelLoadError

ADAPTER_CONFIG = "adapter_config.json"
WEIGHT_FILES = ("adapter_model.safetensors", "adapter_model.bin")
META_FILE = "meta.json"
ADAPTER_GGUF = "adapter.gguf"  # a checkpoint's GGUF LoRA twin for llama.cpp bases (finetune/export.py writes it)
RESAVE = "save or copy the whole adapter folder again"
MAX_HEADER = 100 * 2**20  # safetensors' own limit on its JSON header


def adapter_weight_file(folder: str | Path) -> Path | None:
    """The adapter's weights file (safetensors first, as PEFT looks), or None."""
    return next((Path(folder) / name for name in WEIGHT_FILES if (Path(folder) / name).is_file()), None)


def read_json_file(path: Path, fix: str = RESAVE) -> dict:
    """A JSON object file, or ModelLoadError saying what is wrong with it (missing, empty, not UTF-8, not JSON)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ModelLoadError(f"{path} cannot be read ({exc.strerror}): {fix}") from exc
    if not raw.strip():
        raise ModelLoadError(f"{path} is empty (the adapter was not saved completely): {fix}")
    try:
        value = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ModelLoadError(f"{path} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}): "
                             f"{fix}") from exc
    except json.JSONDecodeError as exc:
        raise ModelLoadError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}; cut short or damaged): "
                             f"{fix}") from exc
    except RecursionError as exc:
        raise ModelLoadError(f"{path} is nested too deeply to be an adapter's settings: {fix}") from exc
    if not isinstance(value, dict):
        raise ModelLoadError(f"{path} does not hold a JSON object of settings: {fix}")
    return value


def check_peft_adapter(folder: str | Path) -> None:
    """Refuse an adapter folder PEFT would fail on or misread, naming the file and the fix."""
    folder = Path(folder)
    config = read_json_file(folder / ADAPTER_CONFIG)
    if "peft_type" not in config:
        raise ModelLoadError(f"{folder / ADAPTER_CONFIG} has no peft_type, so it is not a PEFT adapter's config: "
                             f"{RESAVE}")
    if (folder / META_FILE).is_file():
        read_json_file(folder / META_FILE)
    weights = adapter_weight_file(folder)
    if weights is None:
        raise ModelLoadError(f"adapter folder {folder} has {ADAPTER_CONFIG} but no weights "
                             f"({' or '.join(WEIGHT_FILES)}): it was not saved completely; {RESAVE}")
    size = weights.stat().st_size
    if size == 0:
        raise ModelLoadError(f"{weights} is empty (0 bytes): {RESAVE}")
    if weights.suffix == ".safetensors":
        check_safetensors(weights, size)


def check_safetensors(path: Path, size: int, fix: str = RESAVE) -> None:
    """The file is a whole safetensors file: an 8-byte header length, a JSON header, and exactly the tensor bytes it
    describes (a truncated file has fewer)."""
    damaged = f"{path} is damaged or cut short"
    with open(path, "rb") as f:
        start = f.read(8)
        if len(start) < 8:
            raise ModelLoadError(f"{damaged} ({size} bytes, too short for a safetensors file): {fix}")
        (header_length,) = struct.unpack("<Q", start)
        if header_length > min(MAX_HEADER, size - 8):
            raise ModelLoadError(f"{damaged} (not a safetensors file, or its header is cut off): {fix}")
        try:
            header = json.loads(f.read(header_length).decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise ModelLoadError(f"{damaged} (its header is not readable JSON): {fix}") from exc
    if not isinstance(header, dict):
        raise ModelLoadError(f"{damaged} (its header is not a table of tensors): {fix}")
    data_length = size - 8 - header_length
    try:
        end = max((int(t["data_offsets"][1]) for k, t in header.items() if k != "__metadata__"), default=0)
    except (TypeError, KeyError, IndexError, ValueError) as exc:
        raise ModelLoadError(f"{damaged} (its header lists tensors without their place in the file): {fix}") from exc
    if end != data_length:
        raise ModelLoadError(f"{damaged}: its header describes {end} bytes of tensors but the file holds "
                             f"{data_length}: {fix}")


def adapter_folders_in(spec_text: str) -> list[Path]:
    """The PEFT adapter folders a `BASE+ADAPTER` spec may name (at each '+'), found as models/spec.py looks them up:
    a path, or a name under the adapters folder."""
    found = []
    for index in (i for i, ch in enumerate(spec_text) if ch == "+"):
        text = spec_text[index + 1:].strip()
        if not text:
            continue
        for folder in (Path(text).expanduser(), adapters_dir() / text):
            try:
                if (folder / ADAPTER_CONFIG).is_file():
                    found.append(folder)
                    break
            except OSError:  # a name too long for the file system is no folder
                continue
    return found
