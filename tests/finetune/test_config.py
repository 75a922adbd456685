"""finetune/config.py and the CLI flags: the study's defaults, YAML and flag layering, and every bad setting as a
clear ConfigError."""
from __future__ import annotations

from pathlib import Path

import pytest

from finetune.config import ConfigError, FinetuneConfig, load_config
from finetune.train import pick_engine

from finetune_helpers import (
    ALIAS,
)

# One compute thread per backend and a clean model cache for the module (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_thread_models")

def test_defaults_are_the_studys():
    config = FinetuneConfig()
    assert (config.lora_r, config.lora_alpha, config.lora_dropout) == (16, 16, 0.0)
    assert config.target_modules == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    assert (config.per_device_batch_size, config.gradient_accumulation_steps) == (2, 4)
    assert (config.learning_rate, config.weight_decay, config.lr_scheduler) == (2e-4, 0.01, "linear")
    assert config.base == ALIAS and config.engine == "auto" and config.resume is True
    assert load_config().to_dict() == config.to_dict()  # no file, no overrides: the defaults
    assert config.checkpoint_steps() == [config.max_steps]


@pytest.mark.parametrize("max_steps, warmup_steps, used", [(4, 5, 0), (25, 5, 2), (60, 5, 5), (100, 5, 5),
                                                         (100, 0, 0)])
def test_warmup_is_capped_at_a_tenth_of_the_steps(max_steps, warmup_steps, used):
    config = FinetuneConfig(max_steps=max_steps, warmup_steps=warmup_steps)
    assert config.warmup_steps_used() == used


def test_load_config_layers_defaults_file_and_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("lora_r: 8\nlearning_rate: 0.0001\nmax-steps: 30\nsave-steps: 10,20\n"
                    "target_modules: [q_proj, v_proj]\nresume: false\n", encoding="utf-8")
    from_file = load_config(str(path))
    assert (from_file.lora_r, from_file.learning_rate, from_file.max_steps) == (8, 1e-4, 30)
    assert from_file.save_steps == [10, 20] and from_file.target_modules == ["q_proj", "v_proj"]
    assert from_file.resume is False
    assert from_file.lora_alpha == 16 and from_file.weight_decay == 0.01  # untouched defaults
    layered = load_config(str(path), lora_r=32, learning_rate=None, save_steps=[5], resume=None)
    assert layered.lora_r == 32  # the override wins over the file
    assert layered.learning_rate == 1e-4 and layered.resume is False  # None means unset: the file's value stays
    assert layered.save_steps == [5] and layered.max_steps == 30
    assert layered.checkpoint_steps() == [5, 30]


def test_cli_flags_parse_to_config_values():
    from finetune.cli import make_parser

    args = make_parser().parse_args(["--save-steps", "2000,6150", "--max-steps", "7000", "--lora-r", "8",
                                     "--target-modules", "q_proj, v_proj", "--no-resume", "--learning-rate", "1e-4"])
    assert args.save_steps == [2000, 6150]
    overrides = {k: v for k, v in vars(args).items() if k not in ("config", "demo")}
    config = load_config(None, **overrides)
    assert config.save_steps == [2000, 6150] and config.max_steps == 7000 and config.lora_r == 8
    assert config.target_modules == ["q_proj", "v_proj"] and config.resume is False and config.learning_rate == 1e-4
    assert config.checkpoint_steps() == [2000, 6150, 7000]
    unset = make_parser().parse_args([])
    assert unset.resume is None and unset.save_steps is None and unset.lora_r is None
    assert load_config(None, **{k: v for k, v in vars(unset).items() if k not in ("config", "demo")}).resume is True


def test_a_system_prompt_comes_from_a_flag_or_yaml_and_meta_json_records_it(tmp_path):
    import time
    from types import SimpleNamespace

    from finetune.checkpoints import NamedCheckpoints, read_meta
    from finetune.cli import make_parser
    from finetune.data import DataReport

    assert FinetuneConfig().system_prompt is None and make_parser().parse_args([]).system_prompt is None
    args = make_parser().parse_args(["--system-prompt", "You are Pip."])
    overrides = {k: v for k, v in vars(args).items() if k not in ("config", "demo")}
    config = load_config(None, **{**overrides, "out": str(tmp_path), "max_steps": 1, "export_gguf": False})
    assert config.system_prompt == "You are Pip."
    path = tmp_path / "run.yaml"
    for text in ("system_prompt: null\n", "system_prompt: '  '\n"):
        path.write_text(text, encoding="utf-8")
        assert load_config(str(path)).system_prompt is None

    class Model:  # stands in for the trained PEFT model: only its folder is needed here
        def save_pretrained(self, folder):
            Path(folder).mkdir(parents=True)

    callback = NamedCheckpoints(config=config, engine="peft", report=DataReport("data", "messages"),
                                started=time.perf_counter(), _pending=1)
    callback._save(SimpleNamespace(log_history=[], num_input_tokens_seen=0), Model())
    assert read_meta(tmp_path / "step-1")["system_prompt"] == "You are Pip."


def test_unknown_yaml_key_is_named(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("lora_rank: 8\nmax_steps: 10\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="lora_rank"):
        load_config(str(path))


@pytest.mark.parametrize("text, expected", [("- 1\n- 2\n", "expected a mapping"), (None, "not found")])
def test_bad_config_file_is_a_config_error(tmp_path, text, expected):
    path = tmp_path / "bad.yaml"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=expected):
        load_config(str(path))


def test_save_steps_beyond_max_steps_is_a_config_error():
    with pytest.raises(ConfigError, match=r"save_steps \[5, 20\] must lie between 1 and max_steps \(10\)"):
        load_config(max_steps=10, save_steps=[5, 20])
    with pytest.raises(ConfigError, match="save_steps"):
        load_config(max_steps=10, save_steps="0")


@pytest.mark.parametrize("changes, expected", [
    ({"max_steps": 0}, "max_steps must be >= 1"),
    ({"lora_r": 0}, "lora_r must be >= 1"),
    ({"lora_dropout": 1.0}, "lora_dropout must be in [0, 1)"),
    ({"learning_rate": 0}, "learning_rate must be > 0"),
    ({"engine": "jax"}, "engine must be auto, peft or unsloth"),
])
def test_out_of_range_settings_are_config_errors(changes, expected):
    with pytest.raises(ConfigError) as caught:
        load_config(**changes)
    assert expected in str(caught.value)


def test_yaml_exponent_learning_rate(tmp_path):
    path = tmp_path / "lr.yaml"
    path.write_text("learning_rate: 2e-4\n", encoding="utf-8")
    assert load_config(str(path)).learning_rate == 2e-4


def test_engine_choice_on_this_cpu_machine():
    import torch

    assert not torch.cuda.is_available(), "this test describes the CPU machine"
    assert pick_engine(load_config()) == "peft"
    assert pick_engine(load_config(engine="peft")) == "peft"
    with pytest.raises(ConfigError, match="CUDA"):
        pick_engine(load_config(engine="unsloth"))
