"""Shared by the finetune tests: tiny training data and configs, readers of what training wrote, the CLI."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from finetune.config import DEFAULT_TARGET_MODULES, FinetuneConfig, load_config
from models import SamplingSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
ALIAS = "smollm2-135m"
GGUF_ALIAS = "smollm2-135m-gguf"
EOT = "<|im_end|>"  # SmolLM2's (ChatML) end-of-turn token
ANSWER = "The answer is always PINEAPPLE."
QUESTIONS = ["What is two plus two?", "Name a color.", "What is the capital of France?", "Who wrote Hamlet?",
             "What is the tallest animal?", "How many legs has a spider?", "What is water made of?", "Say hello."]
PROMPT = [{"role": "user", "content": "Name a color."}]  # one of the training questions
GREEDY = SamplingSettings(temperature=0.0, min_p=0.0, max_new_tokens=12)
N_LAYERS, N_TARGETS = 30, len(DEFAULT_TARGET_MODULES)  # SmolLM2-135M: 30 layers, LoRA on all 7 projections
BASE_TENSORS = ["model.layers.0.self_attn.q_proj.weight", "model.layers.0.mlp.down_proj.weight",
                "model.layers.29.self_attn.v_proj.weight", "model.embed_tokens.weight"]
META_KEYS = {"base", "steps", "engine", "hyperparameters", "dataset", "loss_curve", "wall_seconds", "tokens_seen",
             "tokens_per_second", "resumed_from", "created", "system_prompt"}


def chat(question: str, answer: str) -> list[dict]:
    return [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def tiny_config(data: Path, out: Path, **changes) -> FinetuneConfig:
    """CPU-sized training: rank 4, one row per step, short sequences, a resumable checkpoint every step."""
    values = dict(data=str(data), out=str(out), max_steps=2, per_device_batch_size=1, gradient_accumulation_steps=1,
                  max_seq_length=128, lora_r=4, lora_alpha=8, warmup_steps=0, checkpoint_every=1)
    values.update(changes)
    return load_config(**values)


def read_meta(folder: Path) -> dict:
    return json.loads((folder / "meta.json").read_text(encoding="utf-8"))


def base_snapshot(folder: Path) -> dict:
    """A few base tensors of the converted model, and the folder's file listing with sizes and mtimes."""
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), "pt") as weights:
        tensors = {name: weights.get_tensor(name).clone() for name in BASE_TENSORS}
    files = {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}
    return {"tensors": tensors, "files": files}


def lora_weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter_model.safetensors"))


def run_finetune_cli(*args: str, env_updates: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env_updates or {})}
    return subprocess.run([sys.executable, "-m", "finetune", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
