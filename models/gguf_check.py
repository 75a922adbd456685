"""Checking a GGUF file in Python before llama.cpp opens it: llama.cpp's native parser crashes the whole process on
an empty, truncated or garbage file, and on a base model given where a LoRA adapter belongs.

The header is read by hand with bounds on every length (magic, version, counts, then the key/value metadata), never
trusting a size the file claims beyond the bytes it holds. A base must be a model with an architecture; an adapter
must be a LoRA adapter for the base's architecture.
"""
from __future__ import annotations

import mmap
import struct
from pathlib import Path

from models.errors import ModelLoadError

MAGIC = b"GGUF"
SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
STRING, ARRAY = 8, 9
WANTED = ("general.type", "general.architecture", "adapter.type")


class _Header:
    """A bounded reader over the file's bytes; any overrun is a ValueError naming what was being read."""

    def __init__(self, data: bytes | mmap.mmap):
        self.data, self.at = data, 0

    def take(self, n: int, what: str) -> bytes:
        start = self.at
        self.skip(n, what)
        return self.data[start: self.at]

    def number(self, fmt: str, what: str):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))[0]

    def skip(self, n: int, what: str) -> None:
        if n < 0 or self.at + n > len(self.data):
            raise ValueError(f"the file ends inside its {what}")
        self.at += n

    def skip_strings(self, count: int, what: str) -> None:
        """Past `count` strings without decoding them: a vocabulary's 49,152 decoded one by one took ~0.25 s a file,
        on the critical path of every first compare (benchmarks/study_speed.py)."""
        data, at, end, unpack = self.data, self.at, len(self.data), struct.Struct("<Q").unpack_from
        for _ in range(count):
            if at + 8 > end:
                raise ValueError(f"the file ends inside its {what}")
            at += 8 + unpack(data, at)[0]
            if at > end:
                raise ValueError(f"the file ends inside its {what}")
        self.at = at

    def string(self, what: str) -> str:
        return self.take(self.number("<Q", what), what).decode("utf-8", errors="replace")

    def value(self, kind: int, what: str, depth: int = 0):
        if kind in SCALAR:
            return self.number(SCALAR[kind], what)
        if kind == STRING:
            return self.string(what)
        if kind == ARRAY and depth < 2:
            inner, count = self.number("<I", what), self.number("<Q", what)
            if count > len(self.data) - self.at:  # every element takes at least one byte
                raise ValueError(f"its {what} claims {count} elements")
            if count < 64:
                return [self.value(inner, what, depth + 1) for _ in range(count)]
            if inner in SCALAR:  # long arrays (a vocabulary, its scores) are read past, not kept
                self.skip(count * struct.calcsize(SCALAR[inner]), what)
            elif inner == STRING:
                self.skip_strings(count, what)
            else:
                for _ in range(count):
                    self.value(inner, what, depth + 1)
            return []
        raise ValueError(f"unknown value type {kind} in its {what}")


def read_gguf_metadata(path: str | Path) -> dict:
    """The metadata this module checks (general.type, general.architecture, adapter.type) and the tensor count;
    ValueError when the file is not a readable GGUF file."""
    return _read_header(Path(path))[1]


def _read_header(path: Path, keep: tuple[str, ...] = WANTED) -> tuple[_Header, dict]:
    """The header read past its key/value metadata (where the tensor table starts), and the wanted metadata."""
    size = path.stat().st_size
    if size < 24:
        raise ValueError(f"it is {size} bytes long, too short for a GGUF header")
    with open(path, "rb") as f:
        if f.read(4) != MAGIC:
            raise ValueError("it does not start with the GGUF magic bytes")
        # Mapped, not read: only the pages the metadata sits on are touched (reading its first 64 MB took ~0.1 s).
        data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    header = _Header(data)
    header.take(4, "magic")
    version = header.number("<I", "version")
    if version not in (2, 3):
        raise ValueError(f"it has GGUF version {version}; llama.cpp reads versions 2 and 3")
    n_tensors, n_kv = header.number("<Q", "tensor count"), header.number("<Q", "metadata count")
    if n_kv > 100_000 or n_tensors > 1_000_000:
        raise ValueError(f"it claims {n_tensors} tensors and {n_kv} metadata entries")
    found: dict = {"tensors": n_tensors}
    for _ in range(n_kv):
        key = header.string("metadata key")
        value = header.value(header.number("<I", f"metadata {key!r}"), f"metadata {key!r}")
        if key in keep:
            found[key] = value
    return header, found


def check_gguf_whole(path: str | Path) -> None:
    """ValueError unless the file holds every tensor byte its tensor table places in it (a file cut short in its
    tensors passes read_gguf_metadata). Tensor types this gguf package does not know are not measured."""
    from gguf.constants import GGML_QUANT_SIZES

    path = Path(path)
    header, found = _read_header(path, ("general.alignment",))
    end = 0
    for _ in range(found["tensors"]):
        header.string("tensor name")
        dims = [header.number("<Q", "tensor shape") for _ in range(header.number("<I", "tensor dimensions"))]
        kind, offset = header.number("<I", "tensor type"), header.number("<Q", "tensor offset")
        block, block_bytes = GGML_QUANT_SIZES.get(kind, (1, 0))
        elements = 1
        for dim in dims:
            elements *= dim
        end = max(end, offset + elements // block * block_bytes)
    align = found.get("general.alignment") or 32
    start = -(-header.at // align) * align  # the tensor data begins at the next multiple of the alignment
    if start + end > path.stat().st_size:
        raise ValueError(f"it is cut short: its tensors need {start + end} bytes and it holds {path.stat().st_size}")


def check_gguf(path: str | Path, role: str, base_architecture: str | None = None) -> dict:
    """Check a GGUF file given as a `role` ("base" or "adapter") before llama.cpp opens it; ModelLoadError naming the
    problem and the fix otherwise. Returns its metadata."""
    try:
        meta = read_gguf_metadata(path)
    except (OSError, ValueError, UnicodeDecodeError, struct.error) as exc:
        raise ModelLoadError(f"{Path(path).name} is not a usable GGUF file: {exc}. Give a GGUF file written by "
                             "llama.cpp's converter (or `python -m finetune.export` for a LoRA)") from None
    kind = meta.get("general.type", "model")
    if role == "base":
        if kind == "adapter":
            raise ModelLoadError(f"{Path(path).name} is a LoRA adapter, not a base model: name it as BASE+ADAPTER, "
                                 f"e.g. smollm2-135m-gguf+{Path(path).name}")
        if not meta.get("general.architecture") or not meta["tensors"]:
            raise ModelLoadError(f"{Path(path).name} has no architecture or no tensors: it is not a model")
        return meta
    if kind != "adapter" or meta.get("adapter.type") != "lora":
        raise ModelLoadError(f"{Path(path).name} is not a LoRA adapter (it is a {kind}"
                             f"{', ' + str(meta.get('adapter.type')) if meta.get('adapter.type') else ''}): give "
                             "a GGUF LoRA, as `python -m finetune.export` writes from an adapter folder")
    if base_architecture and meta.get("general.architecture") != base_architecture:
        raise ModelLoadError(f"{Path(path).name} is a LoRA for a {meta.get('general.architecture')} model; the base "
                             f"is a {base_architecture} model: give a LoRA trained on this base")
    return meta
