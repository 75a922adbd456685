"""Chat tokenisation for training on responses only: the loss covers assistant turns, not prompts.

Each assistant turn's character span is found by rendering the conversation up to that turn with the model's
chat template (with and without the turn); tokens inside those spans are labelled, everything else is -100.
"""
from __future__ import annotations

from dataclasses import dataclass

IGNORE = -100


class TemplateNotPrefixStable(ValueError):
    """The chat template renders a conversation prefix differently from the start of the whole conversation."""


def assistant_spans(tokenizer, messages: list[dict]) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the (start, end) character spans of its assistant turns (end-of-turn included)."""
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    spans = []
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = tokenizer.apply_chat_template(messages[:index], tokenize=False, add_generation_prompt=True)
        through = tokenizer.apply_chat_template(messages[: index + 1], tokenize=False)
        if not (full.startswith(before) and full.startswith(through)):
            raise TemplateNotPrefixStable("chat template is not prefix-stable")
        spans.append((len(before), len(through)))
    return full, spans


def tokenize_chat(tokenizer, messages: list[dict], max_length: int) -> dict:
    """input_ids / attention_mask / labels for one conversation, truncated to max_length tokens."""
    text, spans = assistant_spans(tokenizer, messages)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, truncation=True,
                        max_length=max_length)
    labels = []
    for token_id, (start, end) in zip(encoded["input_ids"], encoded["offset_mapping"]):
        inside = any(s <= start < e for s, e in spans) and end > start
        labels.append(token_id if inside else IGNORE)
    return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"], "labels": labels}


def tokenize_chats(tokenizer, chats: list[list[dict]], max_length: int, report=None) -> list[dict]:
    """Tokenised examples; conversations left with no trainable token are counted in `report.skipped`."""
    examples = []
    for messages in chats:
        try:
            example = tokenize_chat(tokenizer, messages, max_length)
        except TemplateNotPrefixStable as exc:
            if report is not None:
                report.skipped[str(exc)] += 1
            continue
        if all(label == IGNORE for label in example["labels"]):
            if report is not None:
                report.skipped["no assistant tokens within max_seq_length"] += 1
            continue
        examples.append(example)
    if report is not None:
        report.used = len(examples)
    return examples


@dataclass
class ChatCollator:
    """Pads a micro-batch on the right: pad id for inputs, -100 for labels so padding is never learned."""

    pad_token_id: int

    def __call__(self, features: list[dict]) -> dict:
        import torch

        width = max(len(f["input_ids"]) for f in features)
        def pad(key, value):
            return torch.tensor([f[key] + [value] * (width - len(f[key])) for f in features])
        return {"input_ids": pad("input_ids", self.pad_token_id), "attention_mask": pad("attention_mask", 0),
                "labels": pad("labels", IGNORE)}
