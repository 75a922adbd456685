"""The Unsloth engine for CUDA machines: FastLanguageModel with LoRA (optionally 4-bit QLoRA).

Imported only when CUDA is present and Unsloth is installed (`pip install -r requirements-gpu.txt`); the
Trainer loop, named checkpoints and exports are the same as for the PEFT engine.
"""
from __future__ import annotations

from finetune.config import FinetuneConfig


def load_unsloth(config: FinetuneConfig, source: str):
    """(model with LoRA attached, tokenizer) from Unsloth, with its own gradient checkpointing."""
    from unsloth import FastLanguageModel  # must be imported before transformers patches take effect

    model, tokenizer = FastLanguageModel.from_pretrained(
        model_name=source, max_seq_length=config.max_seq_length, dtype=None, load_in_4bit=config.load_in_4bit,
    )
    model = FastLanguageModel.get_peft_model(
        model, r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
        target_modules=list(config.target_modules), bias="none",
        use_gradient_checkpointing="unsloth",  # Unsloth's offloaded checkpointing: its recommended default
        random_state=config.seed,
    )
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer
