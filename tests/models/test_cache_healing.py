"""Damaged caches of models/ heal instead of failing every later use: a feature row (models/reward_head.py
FeatureCache) that cannot be read or is not this reading's is computed afresh and written again, a converted model
(models/embedded.py) is converted again; each said once per process (basics.cache_rebuilt). Cache files are written
whole or not at all (basics.write_atomic)."""
import json
import shutil

import gguf
import numpy as np
import pytest
from safetensors.numpy import save_file

import basics
from basics import take_cache_notices, write_atomic
from models import embedded
from models.adapter_files import check_safetensors
from models.gguf_check import check_gguf_whole
from models.reward_head import FEATURES_DAMAGED, FeatureCache, answer_features

PROMPT, ANSWERS = "What is the capital of France?", ["Paris.", "Bananas are yellow."]
MODEL = embedded.EMBEDDED_MODELS["smollm2-135m"]


@pytest.fixture(autouse=True)
def fresh_notices(monkeypatch):
    """Each test starts in a process that has said no cache notice yet."""
    monkeypatch.setattr(basics, "_cache_notices", {})


def test_the_atomic_writer_replaces_the_file_whole_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "x.bin"
    write_atomic(path, lambda f: f.write(b"first"))
    write_atomic(path, lambda f: f.write(b"second"))
    assert path.read_bytes() == b"second" and [p.name for p in tmp_path.iterdir()] == ["x.bin"]

    def killed_midway(f):
        f.write(b"half of a ne")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, killed_midway)
    assert path.read_bytes() == b"second" and [p.name for p in tmp_path.iterdir()] == ["x.bin"]


@pytest.fixture(scope="module")
def fresh(base):
    """The two answers' features as a fresh computation gives them."""
    return answer_features(base, PROMPT, ANSWERS)


def filled_cache(base, folder) -> FeatureCache:
    cache = FeatureCache(folder, "smollm2-135m")
    cache.features(base, PROMPT, ANSWERS)
    return cache


def assert_healed(cache, base, fresh, folder):
    """The features equal a fresh computation, the damaged row was written again whole, nothing else is left."""
    assert np.allclose(cache.features(base, PROMPT, ANSWERS), fresh, atol=1e-3)
    stored = np.load(cache._path(PROMPT, ANSWERS[0]))
    assert stored.dtype == np.float32 and np.allclose(stored, fresh[0, : stored.shape[0]], atol=1e-3)
    assert sorted(p.suffix for p in folder.iterdir()) == [".npy", ".npy"]


@pytest.mark.model
@pytest.mark.parametrize("damage", [lambda data: data[:20], lambda data: b"", lambda data: b"\x93NUMPY garbage" * 9],
                         ids=["cut short", "empty", "garbage"])
def test_a_cut_short_or_garbage_row_is_computed_afresh_and_said_once(base, fresh, tmp_path, damage):
    cache = filled_cache(base, tmp_path)
    path = cache._path(PROMPT, ANSWERS[0])
    path.write_bytes(damage(path.read_bytes()))
    assert_healed(cache, base, fresh, tmp_path)
    assert take_cache_notices() == [FEATURES_DAMAGED]
    path.write_bytes(b"damaged again")
    assert_healed(cache, base, fresh, tmp_path)
    assert take_cache_notices() == []  # once per process


@pytest.mark.model
@pytest.mark.parametrize("wrong", ["shape", "hidden only", "dtype", "not finite"])
def test_a_row_that_is_not_this_readings_is_rejected_not_used(base, fresh, tmp_path, wrong):
    cache = filled_cache(base, tmp_path)
    path = cache._path(PROMPT, ANSWERS[0])
    row = np.load(path)
    np.save(path, {"shape": np.zeros(10, np.float32), "hidden only": row[: 2 * base.model.config.hidden_size],
                   "dtype": row.astype(np.float64), "not finite": np.where(np.arange(row.size) == 3, np.nan, row)
                   .astype(np.float32)}[wrong])
    assert_healed(cache, base, fresh, tmp_path)
    assert take_cache_notices() == [FEATURES_DAMAGED]
    # a row of another features version is never even looked up: the version is part of its file's name
    other = 2 if cache.version == 3 else 3
    assert FeatureCache(tmp_path, "smollm2-135m", version=other)._path(PROMPT, ANSWERS[0]) != path


def write_small_gguf(path):
    """A real GGUF file with one tensor, written by the gguf package."""
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_tensor("token_embd.weight", np.ones((8, 16), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_a_gguf_cut_short_in_its_tensors_is_found(tmp_path):
    path = write_small_gguf(tmp_path / "m.gguf")
    check_gguf_whole(path)
    path.write_bytes(path.read_bytes()[:-64])  # the header is whole: only the tensor bytes tell
    with pytest.raises(ValueError, match="cut short"):
        check_gguf_whole(path)


def test_a_damaged_float32_gguf_is_written_again(tmp_path, monkeypatch):
    import llama_cpp

    monkeypatch.setenv("LLM_JUDGE_CACHE", str(tmp_path))
    written = []

    def quantize(source, out, params):  # llama.cpp's writer, standing in: the real one writes 540 MB
        written.append(write_small_gguf(out.decode()))
        return 0

    monkeypatch.setattr(llama_cpp, "llama_model_quantize", quantize)
    target = embedded.f32_gguf_path(MODEL)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"GGUF" + bytes(60))
    assert embedded.ensure_f32_gguf(MODEL) == target and len(written) == 1
    check_gguf_whole(target)
    assert embedded.ensure_f32_gguf(MODEL) == target and len(written) == 1  # whole now: kept
    (notice,) = take_cache_notices()
    assert str(target) in notice and "converted again" in notice


def convert_small(gguf_file, out, model):
    """_convert_gguf standing in (the real one takes ~30 s): a folder of the same files, small."""
    save_file({"w": np.ones((4, 4), np.float32)}, str(out / "model.safetensors"))
    for name in embedded.CONVERTED_JSON:
        (out / name).write_text(json.dumps({"model_type": "llama"}))


@pytest.mark.parametrize("damage", ["config", "weights", "missing weights"])
def test_a_damaged_converted_model_is_converted_again(tmp_path, monkeypatch, damage):
    monkeypatch.setenv("LLM_JUDGE_CACHE", str(tmp_path))
    monkeypatch.setattr(embedded, "_convert_gguf", convert_small)
    target = embedded.ensure_converted(MODEL)
    weights = target / "model.safetensors"
    if damage == "config":
        (target / "config.json").write_text('{"model_type": "lla')
    elif damage == "weights":
        weights.write_bytes(weights.read_bytes()[:-8])
    else:
        weights.unlink()
    assert embedded.ensure_converted(MODEL) == target
    check_safetensors(weights, weights.stat().st_size)
    assert json.loads((target / "config.json").read_text()) == {"model_type": "llama"}
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # nothing set aside is left
    (notice,) = take_cache_notices()
    assert str(target) in notice
    monkeypatch.setattr(embedded, "_convert_gguf", lambda *args: pytest.fail("a whole folder is converted again"))
    assert embedded.ensure_converted(MODEL) == target
    shutil.rmtree(target)
