"""GGUF files are checked in Python before llama.cpp's native parser sees them (models/gguf_check.py): an empty,
garbage or truncated file, or a base model given as an adapter, gets a message, never a crashed process."""
import subprocess
import sys

import gguf
import numpy as np
import pytest

from models.embedded import EMBEDDED_MODELS, embedded_gguf_path
from models.errors import ModelLoadError
from models.gguf_check import check_gguf

EMBEDDED = embedded_gguf_path(next(iter(EMBEDDED_MODELS.values())))


def write_gguf(path, kind: str, architecture: str = "llama"):
    """A small real GGUF file written by the gguf package: a LoRA adapter or a model with one tensor."""
    writer = gguf.GGUFWriter(str(path), architecture)
    if kind == "adapter":
        writer.add_type(gguf.GGUFType.ADAPTER)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_tensor("blk.0.attn_q.weight.lora_a", np.zeros((2, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_the_embedded_model_and_a_lora_pass():
    assert check_gguf(EMBEDDED, "base")["general.architecture"] == "llama"
    assert check_gguf(EMBEDDED, "base")["tensors"] > 100


def test_a_lora_for_the_base_passes_and_one_for_another_architecture_does_not(tmp_path):
    assert check_gguf(write_gguf(tmp_path / "a.gguf", "adapter"), "adapter", "llama")["adapter.type"] == "lora"
    with pytest.raises(ModelLoadError, match="is a LoRA for a qwen2 model; the base is a llama model"):
        check_gguf(write_gguf(tmp_path / "b.gguf", "adapter", "qwen2"), "adapter", "llama")


@pytest.mark.parametrize("content, expected", [
    (b"", "0 bytes long, too short for a GGUF header"),
    (b"not a gguf file at all, just text" * 3, "does not start with the GGUF magic bytes"),
    (b"GGUF" + (7).to_bytes(4, "little") + bytes(40), "GGUF version 7"),
    (b"GGUF" + (3).to_bytes(4, "little") + b"\xff" * 40, "claims 18446744073709551615 tensors"),
])
def test_garbage_is_refused_with_the_reason(tmp_path, content, expected):
    path = tmp_path / "x.gguf"
    path.write_bytes(content)
    with pytest.raises(ModelLoadError, match=expected):
        check_gguf(path, "base")


def test_a_truncated_file_and_swapped_roles_are_refused(tmp_path):
    (tmp_path / "cut.gguf").write_bytes(EMBEDDED.read_bytes()[:5_000])  # cut inside the metadata (the vocabulary)
    with pytest.raises(ModelLoadError, match="not a usable GGUF file: (the file ends inside|its metadata .* claims)"):
        check_gguf(tmp_path / "cut.gguf", "base")
    with pytest.raises(ModelLoadError, match="is not a LoRA adapter \\(it is a model\\)"):
        check_gguf(EMBEDDED, "adapter", "llama")
    with pytest.raises(ModelLoadError, match="is a LoRA adapter, not a base model"):
        check_gguf(write_gguf(tmp_path / "a.gguf", "adapter"), "base")


@pytest.mark.model
@pytest.mark.parametrize("case", ["empty", "base model as adapter"])
def test_the_cli_refuses_a_bad_gguf_in_one_line_instead_of_crashing(tmp_path, case):
    empty = tmp_path / "empty.gguf"
    empty.write_bytes(b"")
    model = str(empty) if case == "empty" else f"smollm2-135m-gguf+{EMBEDDED}"
    done = subprocess.run([sys.executable, "-m", "judge", "compare", "--prompt", "hi", "--model-a", model,
                           "--out", str(tmp_path / "runs")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, (done.returncode, done.stderr[-1000:])  # not 139: llama.cpp never saw the file
    assert ("not a usable GGUF file" if case == "empty" else "is not a LoRA adapter") in done.stderr
    assert "Traceback" not in done.stderr
