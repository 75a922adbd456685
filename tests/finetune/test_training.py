"""LoRA training of the embedded SmolLM2-135M on CPU for real: named checkpoints, meta.json, GGUF twin, resume, and the
trained adapter in use (BASE+ADAPTER on transformers, the GGUF LoRA on llama.cpp, the merged export, the pickers).

Training is tiny (2-4 steps of a rank-4 LoRA on 8 short rows, one torch thread); the runs are module fixtures
(conftest.py) shared by the tests that inspect them.
"""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

import models
from finetune.config import DEFAULT_TARGET_MODULES, ConfigError
from finetune.train import last_resume_checkpoint
from models import parse_model_spec

from finetune_helpers import (
    ALIAS,
    BASE_TENSORS,
    GGUF_ALIAS,
    META_KEYS,
    N_LAYERS,
    N_TARGETS,
    base_snapshot,
    lora_weights,
    read_meta,
    tiny_config,
)

# One compute thread per backend and a clean model cache for the module (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_thread_models")

@pytest.mark.model
def test_training_writes_a_named_checkpoint_per_requested_step(two_step_run):
    out, result = two_step_run.out, two_step_run.result
    assert result.engine == "peft"
    assert result.checkpoints == [out / "step-1", out / "step-2"]
    assert sorted(p.name for p in out.iterdir() if p.name.startswith("step-")) == ["step-1", "step-2"]
    for folder in result.checkpoints:
        for name in ("adapter_model.safetensors", "adapter_config.json", "meta.json", "adapter.gguf"):
            assert (folder / name).is_file(), f"{folder} lacks {name}"
    assert (result.report.rows, result.report.used) == (8, 8)
    assert [e["step"] for e in result.loss_curve] == [1, 2]
    # Progress: a report per logged step, each saved checkpoint announced at its step.
    saved = [(p.step, p.saved) for p in two_step_run.progress if p.saved]
    assert saved == [(1, str(out / "step-1")), (2, str(out / "step-2"))]
    assert {p.step for p in two_step_run.progress if p.loss is not None} == {1, 2}
    assert all(p.max_steps == 2 for p in two_step_run.progress)
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run["engine"] == "peft" and run["config"] == two_step_run.config.to_dict()


@pytest.mark.model
def test_progress_says_when_loading_ends_and_times_the_steps(two_step_run):
    first, *steps = two_step_run.progress
    assert first.loaded and first.step == 0 and first.loss is None  # sent before step 1 is trained
    assert not any(p.loaded for p in steps)
    assert all(p.seconds_per_step is not None and p.seconds_per_step > 0 for p in steps)
    assert steps[-1].seconds_per_step <= steps[-1].elapsed  # loading is no part of a step's time


def learning_rates(config, warmup_steps: int | None = None) -> list[float]:
    """The learning rate of each optimizer step, from the real Trainer's optimizer and scheduler on the embedded
    model (stepped without gradients: only the schedule moves)."""
    from transformers import Trainer

    from finetune.train import load_for_training, training_arguments

    args = training_arguments(config, "peft")
    if warmup_steps is not None:
        args.warmup_steps = warmup_steps
    model, _ = load_for_training(config, "peft")
    trainer = Trainer(model=model, args=args)
    trainer.create_optimizer_and_scheduler(num_training_steps=config.max_steps)
    rates = []
    for _ in range(config.max_steps):
        rates.append(trainer.optimizer.param_groups[0]["lr"])
        trainer.optimizer.step()
        trainer.lr_scheduler.step()
    return rates


@pytest.mark.model
def test_warmup_is_capped_so_step_1_of_a_4_step_run_trains(train_data, converted, tmp_path):
    config = tiny_config(train_data, tmp_path / "short", max_steps=4, warmup_steps=5)  # the default warm-up
    assert config.warmup_steps_used() == 0
    rates = learning_rates(config)
    assert rates[0] == pytest.approx(config.learning_rate) and all(rate > 0 for rate in rates), rates
    assert learning_rates(config, warmup_steps=5)[0] == 0, "uncapped, step 1 would train at learning rate 0"


@pytest.mark.model
@pytest.mark.parametrize("step", [1, 2])
def test_checkpoint_meta_describes_the_run(two_step_run, step):
    meta = read_meta(two_step_run.out / f"step-{step}")
    assert META_KEYS <= set(meta), sorted(META_KEYS - set(meta))
    assert meta["base"] == ALIAS and meta["steps"] == step and meta["engine"] == "peft"
    assert meta["hyperparameters"] == two_step_run.config.to_dict()
    assert meta["hyperparameters"]["lora_r"] == 4 and meta["hyperparameters"]["max_steps"] == 2
    assert meta["dataset"]["rows"] == 8 and meta["dataset"]["used"] == 8 and meta["dataset"]["layout"] == "messages"
    curve = meta["loss_curve"]
    assert [e["step"] for e in curve] == list(range(1, step + 1))
    assert all(isinstance(e["loss"], float) and math.isfinite(e["loss"]) and e["loss"] > 0 for e in curve)
    assert isinstance(meta["wall_seconds"], (int, float)) and meta["wall_seconds"] >= 0
    assert meta["tokens_seen"] > 0 and meta["tokens_per_second"] > 0
    assert meta["resumed_from"] is None
    assert meta["gguf"] == str(two_step_run.out / f"step-{step}" / "adapter.gguf") and "gguf_error" not in meta


@pytest.mark.model
def test_training_changes_lora_b_and_saves_only_adapter_weights(two_step_run):
    import torch

    first, second = (lora_weights(two_step_run.out / f"step-{n}") for n in (1, 2))
    for weights in (first, second):
        assert len(weights) == N_LAYERS * N_TARGETS * 2  # lora_A and lora_B per target module per layer
        assert all(".lora_A." in k or ".lora_B." in k for k in weights), [k for k in weights if "lora_" not in k]
        assert max(t.numel() for t in weights.values()) <= 4 * 1536  # rank 4: no full base matrix slipped in
    b_keys = [k for k in first if ".lora_B." in k]
    # PEFT initialises every lora_B to zero: non-zero ones mean optimizer steps happened.
    assert all(first[k].abs().max() > 0 for k in b_keys)
    assert any(not torch.equal(first[k], second[k]) for k in b_keys)  # step 2 trained on from step 1
    assert any(".self_attn.q_proj." in k for k in b_keys) and any(".mlp.down_proj." in k for k in b_keys)
    config = json.loads((two_step_run.out / "step-2" / "adapter_config.json").read_text(encoding="utf-8"))
    assert config["r"] == 4 and config["lora_alpha"] == 8
    assert sorted(config["target_modules"]) == sorted(DEFAULT_TARGET_MODULES)


@pytest.mark.model
def test_training_leaves_the_base_model_untouched(two_step_run, converted):
    import torch

    after = base_snapshot(converted)
    assert after["files"] == two_step_run.before["files"]  # no file written, added or removed
    for name in BASE_TENSORS:
        assert torch.equal(after["tensors"][name], two_step_run.before["tensors"][name]), name


@pytest.mark.model
def test_gguf_twin_is_a_llamacpp_lora_of_the_same_weights(two_step_run):
    import gguf
    import numpy as np

    folder = two_step_run.out / "step-2"
    reader = gguf.GGUFReader(str(folder / "adapter.gguf"))
    fields = {name: reader.fields[name].contents() for name in ("general.type", "adapter.type", "adapter.lora.alpha")}
    assert fields == {"general.type": "adapter", "adapter.type": "lora", "adapter.lora.alpha": 8.0}
    tensors = {t.name: np.asarray(t.data) for t in reader.tensors}
    assert len(tensors) == N_LAYERS * N_TARGETS * 2
    weights = lora_weights(folder)
    # v_proj is stored as-is; q_proj's lora_B rows are permuted for llama.cpp's RoPE layout (same rows, new order).
    v_b = weights["base_model.model.model.layers.3.self_attn.v_proj.lora_B.weight"].numpy()
    assert np.array_equal(tensors["blk.3.attn_v.weight.lora_b"], v_b)
    q_a = weights["base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight"].numpy()
    assert np.array_equal(tensors["blk.3.attn_q.weight.lora_a"], q_a)
    q_b = weights["base_model.model.model.layers.3.self_attn.q_proj.lora_B.weight"].numpy()
    gguf_q_b = tensors["blk.3.attn_q.weight.lora_b"]
    assert gguf_q_b.shape == q_b.shape and not np.array_equal(gguf_q_b, q_b)
    assert np.array_equal(np.sort(gguf_q_b, axis=0), np.sort(q_b, axis=0))


# ---------------------------------------------------------------------------------------------------- the adapter in use

@pytest.mark.model
def test_adapter_spec_loads_and_changes_the_greedy_reply(pineapple):
    texts = pineapple.texts
    spec, model_class = pineapple.kinds["adapter"]
    assert spec.adapter == str(pineapple.adapter.resolve()) and spec.adapter_kind == "local"
    assert issubclass(model_class, pineapple.peft_model_class)
    assert texts["base"].strip() and texts["adapter"].strip()
    assert texts["adapter"][:30] != texts["base"][:30], texts
    # It learned the training answer's opening, which the base model does not say.
    assert texts["adapter"].startswith("The answer is"), texts
    assert not texts["base"].startswith("The answer is"), texts


@pytest.mark.model
def test_gguf_lora_changes_llamacpp_the_same_way(pineapple):
    texts = pineapple.texts
    assert pineapple.kinds["gguf_adapter"][0].adapter_kind == "gguf-lora"
    # The two backends serve the same (Q4_1) weights: their plain greedy replies agree ...
    assert texts["gguf_base"][:30] == texts["base"][:30], texts
    # ... and so do the adapted ones, which differ from the plain ones.
    assert texts["gguf_adapter"][:30] == texts["adapter"][:30], texts
    assert texts["gguf_adapter"][:30] != texts["gguf_base"][:30], texts


@pytest.mark.model
def test_gguf_lora_on_the_float32_base_gives_the_peft_models_reply(pineapple):
    """The app's default pair once the demo checkpoints exist (runs/config.py default_model_pair): each checkpoint's
    GGUF twin on the float32 GGUF, which computes what the PEFT model on the float32 safetensors computes."""
    assert pineapple.kinds["f32_gguf_adapter"][0].adapter_kind == "gguf-lora"
    assert pineapple.texts["f32_gguf_adapter"] == pineapple.texts["adapter"], pineapple.texts


@pytest.mark.model
def test_merged_export_loads_as_a_base_and_matches_the_adapter(pineapple):
    merged = pineapple.merged
    assert (merged / "config.json").is_file() and (merged / "model.safetensors").is_file()
    assert (merged / "tokenizer.json").is_file() and not (merged / "adapter_config.json").exists()
    config = json.loads((merged / "config.json").read_text(encoding="utf-8"))
    assert config.get("dtype", config.get("torch_dtype")) == "float16"
    spec = pineapple.kinds["merged"][0]
    assert spec.base_kind == "local" and spec.adapter is None
    # fp16 rounding may change later tokens, not the start.
    assert pineapple.texts["merged"][:20] == pineapple.texts["adapter"][:20], pineapple.texts


# ---------------------------------------------------------------------------------------------------------------- resume

@pytest.mark.model
def test_resume_continues_from_the_last_checkpoint(two_step_run, tmp_path, train_data):
    """A run that stopped after step 2 (as if it crashed), continued to step 4 in the same OUT."""
    from finetune.train import train

    out = tmp_path / "crashed-run"
    shutil.copytree(two_step_run.out, out)
    resume_from = last_resume_checkpoint(out)
    assert resume_from is not None and Path(resume_from).name == "checkpoint-2"
    progress = []
    result = train(tiny_config(train_data, out, max_steps=4, resume=True), on_progress=progress.append)
    assert {p.step for p in progress if p.loss is not None} == {3, 4}  # steps 1-2 were not trained again
    meta = read_meta(out / "step-4")
    assert meta["resumed_from"] is not None and "checkpoint-2" in meta["resumed_from"]
    assert meta["resumed_from"] == resume_from
    assert [e["step"] for e in meta["loss_curve"]] == [1, 2, 3, 4]  # the history was restored
    first_run = read_meta(two_step_run.out / "step-2")["loss_curve"]
    assert meta["loss_curve"][:2] == first_run
    assert [e["step"] for e in result.loss_curve] == [1, 2, 3, 4]
    assert result.checkpoints == [out / "step-4"]
    assert Path(last_resume_checkpoint(out)).name == "checkpoint-4"


@pytest.mark.model
def test_no_resume_starts_over(two_step_run, tmp_path, train_data):
    from finetune.train import train

    out = tmp_path / "fresh-run"
    shutil.copytree(two_step_run.out, out)
    progress = []
    train(tiny_config(train_data, out, max_steps=2, resume=False), on_progress=progress.append)
    assert {p.step for p in progress if p.loss is not None} == {1, 2}  # trained from step 1 again
    meta = read_meta(out / "step-2")
    assert meta["resumed_from"] is None
    assert [e["step"] for e in meta["loss_curve"]] == [1, 2]


def test_last_resume_checkpoint_orders_steps_numerically(tmp_path):
    assert last_resume_checkpoint(tmp_path) is None
    for step in (9, 10, 2):
        (tmp_path / "_resume" / f"checkpoint-{step}").mkdir(parents=True)
    assert last_resume_checkpoint(tmp_path) == str(tmp_path / "_resume" / "checkpoint-10")


@pytest.mark.model
def test_training_refuses_adapter_and_llamacpp_bases(two_step_run, tmp_path, train_data):
    from finetune.config import base_source

    with pytest.raises(ConfigError, match="not an adapter spec"):
        base_source(parse_model_spec(f"{ALIAS}+{two_step_run.out / 'step-2'}"))
    with pytest.raises(ConfigError, match="transformers twin"):
        base_source(parse_model_spec(GGUF_ALIAS))


@pytest.mark.model
def test_checkpoints_appear_in_the_model_pickers(two_step_run, monkeypatch):
    monkeypatch.setenv("LLM_JUDGE_ADAPTERS", str(two_step_run.out.parent))
    specs = models.known_model_specs()
    name = two_step_run.out.name
    assert f"{ALIAS}+{name}/step-2" in specs and f"{ALIAS}+{name}/step-1" in specs, specs
    assert f"{ALIAS}-f32-gguf+{name}/step-2/adapter.gguf" in specs, "each checkpoint's GGUF twin is offered too"
    assert specs[:2] == [ALIAS, GGUF_ALIAS]
    parsed = parse_model_spec(f"{ALIAS}+{name}/step-2")
    assert parsed.adapter == str((two_step_run.out / "step-2").resolve())


@pytest.mark.model
def test_resume_checkpoints_are_not_offered(two_step_run, monkeypatch):
    monkeypatch.setenv("LLM_JUDGE_ADAPTERS", str(two_step_run.out.parent))
    assert not [s for s in models.known_model_specs() if "/_resume/" in s]
