"""The generative student's training data (lab/judge_sft.py): both orders of every pair, targets the pairwise
template's own parser reads back, and scores that follow the degradation applied."""
import pytest

from finetune.degradations import degraded_pairs
from judge.parsing import parse_pairwise_reply
from judge.templates import default_template
from lab.judge_sft import judge_sft_rows, target_reply

TEMPLATE = default_template("pairwise")
GOOD = ("g1", "How do I boil an egg?", "Put the egg in boiling water. Cook it for nine minutes. Cool it in cold "
        "water, then peel it. The yolk will be firm and the white set.")


def parsed(reply: str):
    return parse_pairwise_reply(reply, TEMPLATE.criteria, TEMPLATE.scale)


def test_every_pair_is_taught_in_both_orders_with_the_verdict_following_the_answer():
    row = {"id": "h1", "prompt": "Say hi.", "answer_a": "Hi there!", "answer_b": "Bye.", "label": "A"}
    rows = judge_sft_rows([row], TEMPLATE)
    assert len(rows) == 2
    first, second = (r["messages"] for r in rows)
    assert "Hi there!" in first[-2]["content"].split("ANSWER B:")[0]  # A shown first
    assert "Hi there!" in second[-2]["content"].split("ANSWER B:")[1]  # then shown second
    assert parsed(first[-1]["content"]).verdict == "A" and parsed(second[-1]["content"]).verdict == "B"


def test_a_degraded_answer_loses_on_the_criterion_its_degradation_hurts():
    for pair in degraded_pairs([GOOD], kinds=("off_topic", "truncated", "shuffled", "injected"), seed=0):
        if pair.kind == "off_topic":  # one item: no other answer to take, so no off-topic pair
            continue
        scores = parsed(target_reply(TEMPLATE, pair.to_dict(), swapped=False))
        good, bad = ("a", "b") if pair.label == "A" else ("b", "a")
        hurt = TEMPLATE.criteria if pair.criterion == "all" else (pair.criterion,)
        for criterion in TEMPLATE.criteria:
            g, b = (getattr(scores, f"scores_{side}")[criterion] for side in (good, bad))
            assert (g > b) if criterion in hurt else (g == b), (pair.kind, criterion)


def test_a_tie_teaches_a_tie():
    row = {"id": "t", "prompt": "p", "answer_a": "x", "answer_b": "y", "label": "tie"}
    assert parsed(target_reply(TEMPLATE, row, swapped=True)).verdict == "tie"


@pytest.mark.model
def test_a_generative_student_trains_on_the_real_model_and_judges_in_its_own_format(tmp_path):
    from judge.judging import judge_pair
    from lab.judge_sft import train_generative_student
    from models import DEFAULT_JUDGE_SETTINGS, load_model

    # One pair, one step: the path (rows, LoRA, GGUF export, the student in its format) costs ~5 s a step here.
    rows = [p.to_dict() for p in degraded_pairs([GOOD], kinds=("truncated",), seed=0)]
    checkpoint = train_generative_student(rows, TEMPLATE, tmp_path, max_steps=1)
    assert (checkpoint / "adapter_config.json").is_file() and (checkpoint / "adapter.gguf").is_file()
    student = load_model(f"smollm2-135m-gguf+{checkpoint / 'adapter.gguf'}")
    # Up to 60 tokens: the scores and verdict take ~35; the reasons after them could run to the 160-token default
    verdict = judge_pair(student, TEMPLATE, GOOD[1], GOOD[2], "Put the egg in", DEFAULT_JUDGE_SETTINGS.with_(
        max_new_tokens=60))
    assert verdict.status == "ok" and len(verdict.orders) == 2  # constrained to the format it was taught
    assert (tmp_path / "judge_sft.jsonl").read_text().count("\n") == 2 * len(rows)
