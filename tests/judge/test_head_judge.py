"""A scoring judge (a reward head on the embedded model, models/backends/head.py) trained on a few degraded pairs of
the real model's features, then used as a judge: by spec, in single and pairwise judging, and in a compare run."""
import numpy as np
import pytest

from finetune.degradations import degraded_pairs
from finetune.head_training import fit_pair_weights
from judge.judging import HEAD, judge_pair, judge_single
from judge.templates import default_template, parse_template
from models import DEFAULT_JUDGE_SETTINGS, ModelLoadError, ModelSpecError, load_model, parse_model_spec
from models.reward_head import RewardHead, answer_features
from runs.config import CompareConfig, resolve_method
from runs.pipeline import run_compare
from runs.prompt_sets import single_prompt

pytestmark = pytest.mark.model
GOOD = [("g1", "How do I boil an egg?", "Put the egg in boiling water. Cook it for nine minutes. Cool it in cold "
         "water, then peel it. The yolk will be firm and the white set."),
        ("g2", "How do I water a cactus?", "Water it only when the soil is completely dry. Soak the soil, then let "
         "it drain fully. In winter, water once a month at most. Never leave it standing in water.")]


@pytest.fixture(scope="module")
def head_spec(tmp_path_factory):
    base = load_model("smollm2-135m")
    pairs = degraded_pairs(GOOD, kinds=("off_topic", "truncated", "shuffled"), seed=0)
    better, worse = [], []
    for pair in pairs:
        a, b = answer_features(base, pair.prompt, [pair.answer_a, pair.answer_b])
        better.append(a if pair.label == "A" else b)
        worse.append(b if pair.label == "A" else a)
    weights = fit_pair_weights(np.stack(better), np.stack(worse))
    head = RewardHead({c: weights for c in ("relevance", "coherence", "completeness")}, meta={"base": "smollm2-135m"})
    return "head:" + str(head.save(tmp_path_factory.mktemp("head")))


def test_a_head_judges_both_orders_alike_and_prefers_what_it_learnt(head_spec):
    judge = load_model(head_spec)
    assert resolve_method("parsed", judge) == HEAD and judge.capabilities.answer_scores
    prompt, good = GOOD[0][1], GOOD[0][2]
    bad = " ".join(good.split()[:5])
    forward = judge_pair(judge, default_template("pairwise"), prompt, good, bad, DEFAULT_JUDGE_SETTINGS)
    backward = judge_pair(judge, default_template("pairwise"), prompt, bad, good, DEFAULT_JUDGE_SETTINGS)
    assert forward.winner == "A" and backward.winner == "B" and forward.method == HEAD and forward.consistent
    assert forward.scores_a == backward.scores_b
    single = judge_single(judge, default_template("single"), prompt, good, DEFAULT_JUDGE_SETTINGS)
    assert single.status == "ok" and all(1 <= v <= 4 for v in single.scores.values())


def test_a_template_the_head_does_not_score_is_unparsed_with_the_reason(head_spec):
    template = parse_template("name: t\nmode: single\ncriteria: [accuracy]\nscale: [1, 10]\n"
                              "template: '{prompt} {answer}'\noutput_format: 'Accuracy: <1-10>'", source="test")
    verdict = judge_single(load_model(head_spec), template, "q", "a", DEFAULT_JUDGE_SETTINGS)
    assert verdict.status == "unparsed" and "asks for accuracy on 1-10" in verdict.call.error


def test_a_head_judges_a_compare_and_cannot_answer(head_spec, tmp_path):
    config = CompareConfig(model_a="smollm2-135m-gguf", model_b="smollm2-135m-gguf", judge=head_spec,
                           out_dir=str(tmp_path), mode="pairwise")
    config.sampling = config.sampling.with_(max_new_tokens=12)
    records = [u.record for u in run_compare(config, [single_prompt("Name a fruit.")]) if u.stage == "record"]
    assert records[0]["method"] == HEAD and records[0]["winner"] in ("A", "B", "tie")
    with pytest.raises(ModelLoadError, match="scoring judge: it scores answers and cannot write them"):
        load_model(head_spec).complete([{"role": "user", "content": "hi"}], DEFAULT_JUDGE_SETTINGS)
    with pytest.raises(ModelSpecError, match="names no scoring judge"):
        parse_model_spec(f"head:{tmp_path}")


def test_a_head_rewritten_in_its_folder_is_loaded_again_not_served_from_memory(head_spec):
    """A recipe refits a head into the folder it measured: the registry must not hand back the old head."""
    from pathlib import Path

    first = load_model(head_spec)
    assert load_model(head_spec) is first  # unchanged files: the loaded instance
    folder = Path(head_spec[len("head:"):])
    flipped = RewardHead({c: -w for c, w in first.head.weights.items()}, meta=first.head.meta)
    try:
        flipped.save(folder)
        again = load_model(head_spec)
        assert again is not first
        prompt, good = GOOD[0][1], GOOD[0][2]
        bad = " ".join(good.split()[:5])
        verdict = judge_pair(again, default_template("pairwise"), prompt, good, bad, DEFAULT_JUDGE_SETTINGS)
        assert verdict.winner == "B"  # the new (flipped) head's verdict, not the old one's
    finally:
        first.head.save(folder)  # the module's other tests use the head as trained
