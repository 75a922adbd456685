"""LoRA training: the PEFT engine (CPU or CUDA, full precision on CPU) and Unsloth on CUDA, one loop for both.

transformers' Trainer drives the steps, optimizer, schedule and resumable checkpoints; callbacks here write a
named adapter folder (with meta.json and a GGUF twin) at each requested step and report progress.
"""
from __future__ import annotations

import importlib.util
import json
import time
from collections.abc import Callable
from pathlib import Path

from finetune.config import ConfigError, FinetuneConfig, base_source
from finetune.data import load_chats
from finetune.labels import ChatCollator, tokenize_chats
from finetune.progress import Progress, TrainResult
from models.accelerators import cuda_available, unsloth_installed
from models.spec import parse_model_spec

RESUME_DIR = "_resume"


def pick_engine(config: FinetuneConfig) -> str:
    has_unsloth = unsloth_installed()
    if config.engine == "unsloth":
        if not (cuda_available() and has_unsloth):
            raise ConfigError("the Unsloth engine needs a CUDA GPU and `pip install -r requirements-gpu.txt`; "
                              "use --engine peft on this machine")
        return "unsloth"
    if config.engine == "auto" and has_unsloth and cuda_available():
        return "unsloth"
    return "peft"


def load_for_training(config: FinetuneConfig, engine: str):
    """(model with LoRA attached, tokenizer)."""
    source = base_source(parse_model_spec(config.base))
    if engine == "unsloth":
        from finetune.unsloth_engine import load_unsloth

        return load_unsloth(config, source)
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    # Full precision on CPU: autocast to bf16 on CPUs without native support is ~15x slower (measured).
    dtype = torch.float32 if not cuda_available() else torch.bfloat16
    model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype)
    torch.manual_seed(config.seed)
    lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=list(config.target_modules), bias="none", task_type="CAUSAL_LM")
    model = get_peft_model(model, lora)
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    return model, tokenizer


def optimizer_name(config: FinetuneConfig) -> str:
    if config.optimizer != "auto":
        return config.optimizer
    if cuda_available() and importlib.util.find_spec("bitsandbytes") is not None:
        return "adamw_8bit"
    return "adamw_torch"


def training_arguments(config: FinetuneConfig, engine: str):
    from transformers import TrainingArguments

    on_cuda = cuda_available()
    return TrainingArguments(
        output_dir=str(Path(config.out) / RESUME_DIR),
        max_steps=config.max_steps,
        per_device_train_batch_size=config.per_device_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup_steps_used(),
        optim=optimizer_name(config),
        seed=config.seed,
        bf16=_bf16_supported(),  # never on CPU: see load_for_training
        fp16=False,
        use_cpu=not on_cuda,
        logging_steps=1,
        save_strategy="steps",
        save_steps=config.checkpoint_every,
        save_total_limit=1,
        report_to=[],
        remove_unused_columns=False,
        dataloader_num_workers=0,
        include_num_input_tokens_seen="all",
        disable_tqdm=False,
    )


def _bf16_supported() -> bool:
    import torch

    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def last_resume_checkpoint(out: Path) -> str | None:
    folders = sorted((out / RESUME_DIR).glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    return str(folders[-1]) if folders else None


def train(config: FinetuneConfig, on_progress: Callable[[Progress], None] | None = None) -> TrainResult:
    """Train LoRA per `config`, writing OUT/step-N for each checkpoint step; resumes after a crash."""
    config.validate()
    # before the heavy imports: bad data fails fast
    chats, report = load_chats(config.data, config.max_rows, config.system_prompt)
    from transformers import Trainer

    from finetune.checkpoints import NamedCheckpoints  # imports transformers: not before the data is known good

    engine = pick_engine(config)
    model, tokenizer = load_for_training(config, engine)
    examples = tokenize_chats(tokenizer, chats, config.max_seq_length, report)
    if not examples:
        raise ConfigError(f"no trainable examples: {report.summary()}")
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    resume = last_resume_checkpoint(out) if config.resume else None
    if resume and int(resume.rsplit("-", 1)[-1]) >= config.max_steps:
        raise ConfigError(f"{out} already reached {config.max_steps} steps: pick another --out, raise --max-steps "
                          "to continue training, or pass --no-resume to start over")
    callback = NamedCheckpoints(config=config, engine=engine, report=report,
                                started=started, on_progress=on_progress, resumed_from=resume)
    trainer = Trainer(model=model, args=training_arguments(config, engine), train_dataset=examples,
                      data_collator=ChatCollator(tokenizer.pad_token_id), callbacks=[callback])
    trainer.train(resume_from_checkpoint=resume)
    (out / "run.json").write_text(json.dumps({"config": config.to_dict(), "engine": engine,
                                              "data": report.to_dict()}, indent=2), encoding="utf-8")
    return TrainResult(checkpoints=callback.saved, engine=engine, report=report,
                       loss_curve=callback.loss_curve(trainer.state), seconds=time.perf_counter() - started)
