"""finetune/labels.py: the loss covers assistant turns only, rendered with the embedded model's own chat template."""
from __future__ import annotations

import pytest

from finetune_helpers import (
    EOT,
    chat,
)

# One compute thread per backend and a clean model cache for the module (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_thread_models")

@pytest.fixture(scope="module")
def tokenizer(converted):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(converted))


def labelled_runs(example: dict) -> list[list[int]]:
    from finetune.labels import IGNORE

    runs, current = [], []
    for token, label in zip(example["input_ids"], example["labels"]):
        if label == IGNORE:
            if current:
                runs.append(current)
            current = []
        else:
            assert label == token  # a labelled position predicts its own token (the model shifts internally)
            current.append(label)
    return runs + ([current] if current else [])


@pytest.mark.model
def test_only_assistant_turns_are_labelled(tokenizer):
    from finetune.labels import tokenize_chat

    messages = [{"role": "system", "content": "Be terse, please."}, *chat("Hi there, who are you?", "I am Bob."),
                *chat("Name a fruit for me.", "A ripe mango.")]
    example = tokenize_chat(tokenizer, messages, max_length=128)
    assert len(example["input_ids"]) == len(example["labels"]) == len(example["attention_mask"])
    runs = labelled_runs(example)
    eot_id = tokenizer.convert_tokens_to_ids(EOT)
    assert [run.count(eot_id) for run in runs] == [1, 1]
    # Each labelled run is the assistant's content, its end-of-turn token, and the newline that closes a ChatML
    # turn (the template writes "<|im_end|>\n"; Unsloth's train_on_responses_only labels it too).
    assert [tokenizer.decode(run) for run in runs] == [f"I am Bob.{EOT}\n", f"A ripe mango.{EOT}\n"]
    assert [tokenizer.decode(run[:run.index(eot_id)]) for run in runs] == ["I am Bob.", "A ripe mango."]
    labelled = tokenizer.decode([t for run in runs for t in run])
    for unlabelled in ("Be terse", "Hi there", "Name a fruit", "system", "user", "assistant", "<|im_start|>"):
        assert unlabelled not in labelled
    # And everything that is not an assistant turn is masked: the whole text is the prompts plus the labelled part.
    assert sum(map(len, runs)) < len(example["input_ids"])
    assert tokenizer.decode(example["input_ids"]).count("<|im_start|>") == 5


@pytest.mark.model
def test_conversations_truncated_before_the_answer_are_skipped_and_counted(tokenizer):
    from finetune.data import DataReport
    from finetune.labels import IGNORE, tokenize_chats

    long_question = "Please think about this question very carefully. " * 20
    chats = [chat("Hi", "Hello!"), chat(long_question, "Yes.")]
    report = DataReport(source="test", layout="messages", rows=2, used=2)
    examples = tokenize_chats(tokenizer, chats, max_length=64, report=report)
    assert len(examples) == 1 and report.used == 1
    assert dict(report.skipped) == {"no assistant tokens within max_seq_length": 1}
    assert len(examples[0]["input_ids"]) <= 64 and any(label != IGNORE for label in examples[0]["labels"])


def test_collator_pads_inputs_and_masks_padding_in_labels():
    from finetune.labels import IGNORE, ChatCollator

    batch = ChatCollator(pad_token_id=7)([
        {"input_ids": [1, 2, 3], "attention_mask": [1, 1, 1], "labels": [IGNORE, 2, 3]},
        {"input_ids": [4], "attention_mask": [1], "labels": [4]},
    ])
    assert batch["input_ids"].tolist() == [[1, 2, 3], [4, 7, 7]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [[IGNORE, 2, 3], [4, IGNORE, IGNORE]]
