"""llama.cpp's CPU weight buffers (models/llamacpp_buffers.py): plain by default, so a prompt read in batches of two
or more tokens gives the same logits however it is split, which the KV-cache reuse of the llama.cpp backend needs."""
import numpy as np
import pytest

from models import SettingsError, load_model
from models.llamacpp_buffers import EXTRA_BUFFERS_ENV, extra_buffers_wanted, llama_weight_buffers

pytestmark = pytest.mark.model


@pytest.mark.parametrize("value, wanted", [("", False), ("0", False), ("1", True), (" 1 ", True)])
def test_the_setting_reads_0_or_1(monkeypatch, value, wanted):
    monkeypatch.setenv(EXTRA_BUFFERS_ENV, value)
    assert extra_buffers_wanted() is wanted


@pytest.mark.parametrize("value", ["yes", "2", "true", "-1"])
def test_a_bad_setting_names_the_variable_and_the_choices(monkeypatch, value):
    monkeypatch.setenv(EXTRA_BUFFERS_ENV, value)
    with pytest.raises(SettingsError, match=rf"\$LLM_JUDGE_LLAMA_EXTRA_BUFFERS must be 0 .* or 1 .*got '{value}'"):
        extra_buffers_wanted()


def test_the_default_is_swapped_only_while_loading():
    import llama_cpp.llama_cpp as bindings

    assert bindings.llama_model_default_params().use_extra_bufts  # llama.cpp's own default
    with llama_weight_buffers():
        assert not bindings.llama_model_default_params().use_extra_bufts
    assert bindings.llama_model_default_params().use_extra_bufts


@pytest.mark.parametrize("alias", ["smollm2-135m-gguf", "smollm2-135m-f32-gguf"])
def test_a_prompt_split_into_batches_of_two_or_more_gives_the_same_logits(alias, one_thread_models):
    backend = load_model(alias)
    assert backend.llm.model_params.use_extra_bufts is False
    llm = backend.llm
    ids = backend._token_ids(backend._chat_prompt([{"role": "user", "content": "Why is the sky blue? Name a color."}]))

    def logits_read_in(pieces: list[int]) -> np.ndarray:
        llm.reset()
        start = 0
        for end in pieces + [len(ids)]:
            llm.eval(ids[start:end])
            start = end
        return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).copy()

    with backend.lock:
        whole = logits_read_in([])
        for pieces in ([len(ids) - 2], [8], [8, 16, 24]):
            assert np.array_equal(logits_read_in(pieces), whole), pieces
        llm.reset()  # leave no half-read state to the next user of the cached model


def test_probability_reads_never_decode_a_token_alone(one_thread_models, monkeypatch):
    """A one-token decode rounds otherwise than a batch: a read that reused all but the last token of the cache gave
    numbers that depended on what was read before (issue 20, item 6). Every decode of a read is two tokens or more."""
    backend = load_model("smollm2-135m-gguf")
    reads, evaluate = [], backend.llm.eval
    monkeypatch.setattr(backend.llm, "eval", lambda tokens: (reads.append(len(tokens)), evaluate(tokens)))
    messages = [{"role": "user", "content": "Rate this answer: the sky is blue because of Rayleigh scattering."}]
    for _ in range(2):  # the second time everything but the last tokens is in the cache
        backend.continuation_logprobs(messages, "Relevance: ", ["1", "2", "3", "4"])
        backend.continuation_logprobs(messages, "Verdict: ", ["good answer", "bad answer", "excellent"])
    assert len(reads) >= 4 and min(reads) >= 2, reads
