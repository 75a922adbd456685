"""The generative student of a distillation: a LoRA on the base model trained to write the pairwise judge
template's reply (scores, verdict, reasons) for the teacher's verdicts, both answer orders of every pair, so it
cannot learn a position preference. lab/distill.py trains the scoring student; this is its generative rival.

Targets: a human or teacher pair gives the better answer 4 and the worse 3 on every criterion (the teacher names no
criterion); a degraded pair (finetune/degradations.py) gives the degraded answer 1 on the criterion its
degradation hurts (every criterion for injected judge text) and 4 elsewhere; a tie gives 3 and 3.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from basics import write_jsonl_rows
from finetune.config import FinetuneConfig
from judge.templates import JudgeTemplate

REASONS = {"off_topic": "{bad} answers another question.", "shuffled": "{bad} is out of order and hard to follow.",
           "contradictory": "{bad} contradicts itself.", "truncated": "{bad} stops mid-sentence.",
           "dropped_parts": "{bad} leaves parts out.", "injected": "{bad} carries grading text instead of an answer.",
           None: "{good} answers the instruction better than {bad}."}


def target_reply(template: JudgeTemplate, row: dict, swapped: bool) -> str:
    """The reply the student learns for `row` shown in A/B order (or swapped), in the template's five lines."""
    label = {"A": "B", "B": "A"}.get(row["label"], "tie") if swapped else row["label"]
    scores = {}
    for criterion in template.criteria:
        hurt = row.get("criterion") in (criterion, "all")
        good, bad = (4, 1) if row.get("kind") and hurt else (4, 4) if row.get("kind") else (4, 3)
        scores[criterion] = {"tie": (3, 3), "A": (good, bad), "B": (bad, good)}[label]
    lines = [f"{c.capitalize()}: A={a} B={b}" for c, (a, b) in scores.items()]
    lines.append(f"Verdict: [[{label}]]")
    if label == "tie":
        lines.append("Reasons: both answers serve the instruction equally well.")
    else:
        lines.append("Reasons: " + REASONS[row.get("kind")].format(good=label, bad="B" if label == "A" else "A"))
    return "\n".join(lines)


def judge_sft_rows(rows: list[dict], template: JudgeTemplate) -> list[dict]:
    """Chat rows (messages) for finetune/: each pair in both orders, the template's prompt and the target reply."""
    out = []
    for row in rows:
        for swapped in (False, True):
            a, b = (row["answer_b"], row["answer_a"]) if swapped else (row["answer_a"], row["answer_b"])
            messages = template.render(prompt=row["prompt"], answer_a=a, answer_b=b)
            out.append({"messages": [*messages, {"role": "assistant", "content": target_reply(template, row,
                                                                                              swapped)}]})
    return out


def train_generative_student(rows: list[dict], template: JudgeTemplate, folder: Path, max_steps: int,
                             base: str = "smollm2-135m", on_progress: Callable | None = None) -> Path:
    """Train the LoRA student on `rows` (teacher-labelled and degraded pairs); returns its last checkpoint."""
    from finetune.train import train

    data = write_jsonl_rows(Path(folder) / "judge_sft.jsonl", judge_sft_rows(rows, template))
    config = FinetuneConfig(base=base, data=str(data), out=str(Path(folder) / "lora"), max_steps=max_steps,
                            save_steps=[], per_device_batch_size=4, gradient_accumulation_steps=2,
                            learning_rate=3e-4, warmup_steps=max(1, max_steps // 20), max_seq_length=1024,
                            checkpoint_every=max(25, max_steps), resume=False, export_gguf=True)
    result = train(config, on_progress=on_progress)
    return result.checkpoints[-1]
