"""Fixtures of the finetune tests: a clean model cache per test, the training data, and the real (tiny) training
runs that several tests inspect."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from models import load_model
from models.embedded import EMBEDDED_MODELS, ensure_converted
from models.registry import unload_all

from finetune_helpers import (
    ALIAS,
    ANSWER,
    GGUF_ALIAS,
    GREEDY,
    PROMPT,
    QUESTIONS,
    base_snapshot,
    chat,
    tiny_config,
    write_jsonl,
)


@pytest.fixture(autouse=True)
def fresh_registry():
    """No cached backend leaks into or out of a test."""
    unload_all()
    yield
    unload_all()


@pytest.fixture(scope="module")
def train_data(tmp_path_factory) -> Path:
    """8 short chats that all give the same distinctive answer."""
    return write_jsonl(tmp_path_factory.mktemp("data") / "pineapple.jsonl",
                       [{"messages": chat(q, ANSWER)} for q in QUESTIONS])


@pytest.fixture(scope="module")
def converted() -> Path:
    return ensure_converted(EMBEDDED_MODELS[ALIAS])


@pytest.fixture(scope="module")
def two_step_run(tmp_path_factory, train_data, converted):
    """max_steps 2 with a named checkpoint at step 1 too, into ADAPTERS/tiny-run."""
    from finetune.train import train

    before = base_snapshot(converted)
    out = tmp_path_factory.mktemp("adapters") / "tiny-run"
    config = tiny_config(train_data, out, max_steps=2, save_steps=[1])
    progress = []
    result = train(config, on_progress=progress.append)
    return SimpleNamespace(out=out, config=config, result=result, progress=progress, before=before)


@pytest.fixture(scope="module")
def pineapple(tmp_path_factory, train_data):
    """A harder-trained adapter (4 steps of 2 rows at lr 2e-3), its merged export, and every model's greedy reply.

    The generations are made here once (each backend loaded, used, and dropped) and the tests compare them.
    """
    from peft import PeftModel

    from finetune.export import export_merged
    from finetune.train import train

    out = tmp_path_factory.mktemp("pineapple") / "run"
    train(tiny_config(train_data, out, max_steps=4, per_device_batch_size=2, learning_rate=2e-3, resume=False))
    adapter = out / "step-4"
    merged = export_merged(adapter, out.parent / "merged", dtype="float16")
    specs = {"base": ALIAS, "adapter": f"{ALIAS}+{adapter}", "gguf_base": GGUF_ALIAS,
             "gguf_adapter": f"{GGUF_ALIAS}+{adapter / 'adapter.gguf'}", "merged": str(merged),
             "f32_gguf_adapter": f"{ALIAS}-f32-gguf+{adapter / 'adapter.gguf'}"}
    texts, kinds = {}, {}
    for name, spec in specs.items():
        backend = load_model(spec)
        kinds[name] = (backend.spec, type(backend.model if hasattr(backend, "model") else backend.llm))
        texts[name] = backend.complete(PROMPT, GREEDY).text
        unload_all()
    return SimpleNamespace(out=out, adapter=adapter, merged=merged, texts=texts, kinds=kinds,
                           peft_model_class=PeftModel)
