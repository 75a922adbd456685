"""One optimizer step of the CPU (PEFT) engine against the bare forward+backward passes it contains.

Same batch both ways: 8 conversations from the demo data cut to the same token length (no padding), fed as
batch 2 x accumulation 4 (the study's setting). "Bare" is only the four forward+backward passes; "step" is the
wall time between the Trainer's step ends (data collation, passes, clipping, AdamW, schedule, logging).
Target: step <= 1.3 x bare. Usage: python benchmarks/train_step.py [--steps 6] [--tokens 256]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from finetune.config import DEMO_DATA, load_config  # noqa: E402
from finetune.data import load_chats  # noqa: E402
from finetune.labels import ChatCollator, tokenize_chats  # noqa: E402
from finetune.train import load_for_training, training_arguments  # noqa: E402


def equal_length_examples(tokenizer, n: int, tokens: int) -> list[dict]:
    chats, _ = load_chats(DEMO_DATA)
    examples = [e for e in tokenize_chats(tokenizer, chats, tokens) if len(e["input_ids"]) == tokens]
    if len(examples) < n:
        raise SystemExit(f"only {len(examples)} demo conversations reach {tokens} tokens; pass a smaller --tokens")
    return examples[:n]


def time_bare_passes(model, batches, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats + 1):  # the first round warms up allocators and is dropped
        started = time.perf_counter()
        for batch in batches:
            (model(**batch).loss / len(batches)).backward()
        times.append(time.perf_counter() - started)
        model.zero_grad(set_to_none=True)
    return times[1:]


def time_trainer_steps(model, tokenizer, examples, config, steps: int) -> list[float]:
    from transformers import Trainer, TrainerCallback

    ends: list[float] = []

    class StepClock(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            ends.append(time.perf_counter())

    args = training_arguments(config, "peft")
    args.save_strategy = "no"
    args.disable_tqdm = True
    trainer = Trainer(model=model, args=args, train_dataset=examples,
                      data_collator=ChatCollator(tokenizer.pad_token_id), callbacks=[StepClock()])
    trainer.train()
    deltas = [b - a for a, b in zip(ends, ends[1:])]
    return deltas[1:]  # drop the first interval: it still includes warm-up


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--tokens", type=int, default=256)
    args = parser.parse_args()
    config = load_config(out="/tmp/llm-judge-bench-train", max_steps=args.steps + 2, checkpoint_every=10_000,
                         warmup_steps=0, export_gguf=False)
    model, tokenizer = load_for_training(config, "peft")
    model.train()
    examples = equal_length_examples(tokenizer, config.per_device_batch_size * config.gradient_accumulation_steps,
                                     args.tokens)
    collate = ChatCollator(tokenizer.pad_token_id)
    size = config.per_device_batch_size
    batches = [collate(examples[i:i + size]) for i in range(0, len(examples), size)]
    bare = time_bare_passes(model, batches, args.steps)
    step = time_trainer_steps(model, tokenizer, examples, config, args.steps)
    b, s = statistics.median(bare), statistics.median(step)
    print(f"batch {size} x accumulation {config.gradient_accumulation_steps} x {args.tokens} tokens, "
          f"LoRA r{config.lora_r} on {config.base}, float32, gradient checkpointing off")
    print(f"bare forward+backward: median {b:.2f} s  ({', '.join(f'{t:.2f}' for t in bare)})")
    print(f"optimizer step:        median {s:.2f} s  ({', '.join(f'{t:.2f}' for t in step)})")
    print(f"step / bare = {s / b:.2f}  (target <= 1.30)")


if __name__ == "__main__":
    main()
