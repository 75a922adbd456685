"""Backend.generate_batch and Backend.perplexity with the real embedded model on both backends.

transformers decodes a whole batch in one left-padded generate() call, which must not change greedy replies;
llama.cpp decodes the conversations as parallel sequences, each with complete()'s sampler chain, so its replies
are complete()'s, sampled ones included. Generations are 12 tokens, on one thread as in tests/test_models_real.py.
"""
from __future__ import annotations

import math
import random
import time

import pytest

from models import SamplingSettings, SettingsError

pytestmark = [pytest.mark.model, pytest.mark.usefixtures("one_thread_models")]

ALIAS = "smollm2-135m"
GGUF_ALIAS = "smollm2-135m-gguf"

# Three prompt lengths (34, 43 and 24 tokens after the chat template), so two of the three rows are padded.
CONVERSATIONS = [
    [{"role": "user", "content": "Name a color."}],
    [{"role": "user", "content": "Explain in one sentence why the sky looks blue during the day."}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+2?"}],
]
GREEDY = SamplingSettings(temperature=0.0, min_p=0.0, max_new_tokens=12)
SAMPLED = SamplingSettings(temperature=1.0, min_p=0.05, max_new_tokens=12, seed=7)


@pytest.fixture(scope="module")
def one_at_a_time(base) -> list[str]:
    return [base.complete(messages, GREEDY).text for messages in CONVERSATIONS]


# ------------------------------------------------------------------------------------------ transformers

def test_greedy_batch_equals_one_at_a_time(base, one_at_a_time):
    lengths = {len(base.encode_chat(m)["input_ids"][0]) for m in CONVERSATIONS}
    assert len(lengths) == 3, "the prompts must differ in length, or nothing is padded"

    started = time.perf_counter()
    batch = base.generate_batch(CONVERSATIONS, GREEDY)
    wall = time.perf_counter() - started

    assert [g.text for g in batch] == one_at_a_time
    assert all(g.text.strip() and 0 < g.n_tokens <= GREEDY.max_new_tokens for g in batch)
    # seconds are token shares of the one batch: they add up to its wall time, and tokens/s is its throughput.
    assert sum(g.seconds for g in batch) <= wall
    assert sum(g.seconds for g in batch) == pytest.approx(wall, rel=0.2)
    assert all(g.tokens_per_second == pytest.approx(batch[0].tokens_per_second) for g in batch)
    assert base.tokenizer.padding_side == "right"  # left padding was for the batch only
    assert not base.lock.locked()


def test_chunks_give_the_same_greedy_replies(base, one_at_a_time):
    chunked = base.generate_batch(CONVERSATIONS, GREEDY, batch_size=2)  # a chunk of 2, then one of 1
    assert [g.text for g in chunked] == one_at_a_time


def test_sampled_batch_repeats_with_the_same_seed(base):
    first = [g.text for g in base.generate_batch(CONVERSATIONS, SAMPLED)]
    other = [g.text for g in base.generate_batch(CONVERSATIONS, SAMPLED.with_(seed=8))]  # moves the RNG on
    second = [g.text for g in base.generate_batch(CONVERSATIONS, SAMPLED)]
    assert all(t.strip() for t in first)
    assert second == first
    assert other != first, f"seeds 7 and 8 at temperature 1 gave the same three replies: {first!r}"


def test_empty_batch_and_bad_batch_size(base, gguf):
    assert base.generate_batch([], GREEDY) == []
    for backend in (base, gguf):
        with pytest.raises(SettingsError, match="batch_size"):
            backend.generate_batch(CONVERSATIONS, GREEDY, batch_size=0)


def test_own_greedy_reply_has_lower_perplexity_than_its_words_shuffled(base, one_at_a_time):
    messages, reply = CONVERSATIONS[1], one_at_a_time[1]
    words = reply.split()
    shuffled = words[:]
    random.Random(0).shuffle(shuffled)
    assert shuffled != words
    own = base.perplexity(messages, reply)
    scrambled = base.perplexity(messages, " ".join(shuffled))
    assert math.isfinite(own) and own > 1
    assert math.isfinite(scrambled) and scrambled > own, (own, scrambled)
    assert not base.lock.locked()


def test_perplexity_scores_only_the_reference_tokens(base):
    """Against the full-sequence logits computed here: the prompt is context, and only the reference is scored."""
    import torch

    messages, reference = CONVERSATIONS[0], "Blue, like the sea."
    target = base.tokenizer(reference, add_special_tokens=False)["input_ids"]
    ids = torch.cat([base.encode_chat(messages)["input_ids"], torch.tensor([target])], dim=1)
    with torch.inference_mode():
        logits = base.model(input_ids=ids).logits[0, -len(target) - 1:-1]
    log_probs = torch.log_softmax(logits, dim=-1)[torch.arange(len(target)), target]
    assert base.perplexity(messages, reference) == pytest.approx(math.exp(-log_probs.mean().item()), rel=1e-4)
    assert base.perplexity(messages, "") is None  # nothing to score


# ------------------------------------------------------------------------------------------------ llama.cpp

@pytest.mark.parametrize("settings", [GREEDY, SAMPLED, SamplingSettings(temperature=1.5, min_p=0.1, top_p=0.9,
                                                                       max_new_tokens=12, seed=3)],
                         ids=["greedy", "sampled", "p2-like with top_p"])
def test_llamacpp_parallel_sequences_give_complete_s_replies(gguf, settings):
    batch = gguf.generate_batch(CONVERSATIONS, settings)
    assert gguf.capabilities.batched_generation
    assert [g.text for g in batch] == [gguf.complete(m, settings).text for m in CONVERSATIONS]
    assert all(g.text.strip() and 0 < g.n_tokens <= 12 for g in batch)
    assert [g.text for g in gguf.generate_batch(CONVERSATIONS[::-1], settings)] == [g.text for g in batch][::-1]


def test_llamacpp_prompts_longer_than_one_decode_batch_and_several_chunks(gguf):
    """Prompts of ~300 tokens each: a chunk's prefill (2 x ~300 tokens) spans two llama.cpp decode batches of 512;
    batch_size 2 makes two chunks."""
    long = [[{"role": "user", "content": f"{n}: " + "Summarise this. " * 70}] for n in range(3)]
    batch = gguf.generate_batch(long, SAMPLED, batch_size=2)
    assert [g.text for g in batch] == [gguf.complete(m, SAMPLED).text for m in long]


def test_llamacpp_perplexity_ranks_its_own_reply_above_its_words_shuffled(gguf):
    """Read in the batch decoder's context (logits of the reference's positions only), several decode batches long."""
    messages = CONVERSATIONS[1]
    reply = gguf.complete(messages, GREEDY).text
    shuffled = reply.split()
    random.Random(0).shuffle(shuffled)
    own, scrambled = gguf.perplexity(messages, reply), gguf.perplexity(messages, " ".join(shuffled))
    assert gguf.capabilities.perplexity and math.isfinite(own) and 1 < own < scrambled, (own, scrambled)
    long = "The sea is blue because water absorbs red light. " * 60  # ~600 tokens: two decode batches
    assert math.isfinite(gguf.perplexity(messages, long)) and gguf.perplexity(messages, "") is None
    assert gguf.complete(messages, GREEDY).text == reply  # the model's own context is left as it was


def test_a_streamed_reply_never_counts_more_tokens_than_were_allowed(base, gguf):
    """The count is the re-tokenised text's (streamed pieces are not tokens), never more than max_new_tokens."""
    for backend in (base, gguf):
        for messages in CONVERSATIONS:
            generation = backend.complete(messages, SAMPLED)
            assert 0 < generation.n_tokens <= SAMPLED.max_new_tokens


# ------------------------------------------------------------------------------------ float32 GGUF twin

def test_the_float32_gguf_answers_as_transformers_does(base, one_at_a_time):
    """The default Model A (smollm2-135m-f32-gguf) is the transformers model's weights in float32 on llama.cpp: its
    greedy replies, one at a time and batched, are the transformers model's."""
    from models import load_model
    from models.embedded import EMBEDDED_MODELS, ensure_f32_gguf, f32_gguf_path

    twin = load_model("smollm2-135m-f32-gguf")
    assert twin.name == "llamacpp" and twin.computes_on_this_cpu and base.computes_on_this_cpu
    written = f32_gguf_path(EMBEDDED_MODELS[ALIAS])
    assert written.is_file() and ensure_f32_gguf(EMBEDDED_MODELS[ALIAS]) == written
    assert not list(written.parent.glob(f".{ALIAS}-f32-*"))  # no half-written file left beside it
    assert [twin.complete(m, GREEDY).text for m in CONVERSATIONS] == one_at_a_time
    assert [g.text for g in twin.generate_batch(CONVERSATIONS, GREEDY, batch_size=3)] == one_at_a_time
    for messages, reference in zip(CONVERSATIONS, ("Blue, like the sea.", "Light scatters.", "Four")):
        assert twin.perplexity(messages, reference) == pytest.approx(base.perplexity(messages, reference), rel=2e-3)
