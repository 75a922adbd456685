"""The OpenAI-compatible backend against real servers on 127.0.0.1 serving the embedded model (tests/servers.py):
llama-cpp-python's server and `transformers serve`. Nothing here is faked."""
import pytest
from servers import LLAMA_ALIAS, llama_cpp_server

from judge.judging import PROBABILITIES, judge_single
from judge.templates import default_template
from models import DEFAULT_JUDGE_SETTINGS, ModelLoadError, SamplingSettings, load_model, parse_model_spec
from models.endpoints import EndpointError, EndpointLimits
from models.registry import backend_factory
from runs.config import resolve_method

pytestmark = pytest.mark.model
HELLO = [{"role": "user", "content": "Name three fruits."}]


def fresh(spec: str):
    """A new backend (not the registry's cached one), so the environment's limits at this moment apply."""
    return backend_factory("openai")(parse_model_spec(spec))


def test_llama_server_streams_and_takes_min_p_logprobs_and_grammar(llama_server):
    backend = load_model(f"openai:{LLAMA_ALIAS}@{llama_server}")
    assert backend.accepts == {"min_p": True, "logprobs": True, "grammar": True}
    assert backend.capabilities.reply_probabilities and backend.capabilities.grammar
    settings = SamplingSettings(temperature=0.7, min_p=0.1, max_new_tokens=24, seed=5)
    pieces = list(backend.generate_with_progress(HELLO, settings))
    partials, finished = pieces[:-1], pieces[-1]
    assert len(partials) > 3 and partials[-1] == finished.text  # streamed piece by piece
    assert finished.warnings == [] and 0 < finished.n_tokens <= 24
    assert backend.complete(HELLO, settings).text == finished.text  # same seed and settings, same answer
    assert resolve_method("auto", backend) == PROBABILITIES


def test_transformers_serve_refuses_min_p_and_the_answer_says_so(transformers_server):
    url, model = transformers_server
    backend = load_model(f"openai:{model}@{url}")
    assert backend.accepts["min_p"] is False and backend.accepts["logprobs"] is False
    generation = backend.complete(HELLO, SamplingSettings(temperature=0.5, min_p=0.05, max_new_tokens=16))
    assert generation.text and generation.input_tokens and generation.n_tokens <= 16
    assert any("min_p=0.05 not applied" in w for w in generation.warnings)
    assert backend.complete(HELLO, SamplingSettings(min_p=0.0, max_new_tokens=8)).warnings == []
    assert resolve_method("auto", backend) == "parsed"  # no probabilities returned: the parsed fallback


def test_unknown_model_names_what_the_server_serves(llama_server, transformers_server):
    with pytest.raises(ModelLoadError, match=f"does not serve a model named 'nope'; it serves: {LLAMA_ALIAS}"):
        fresh(f"openai:nope@{llama_server}")
    url, model = transformers_server
    with pytest.raises(ModelLoadError, match="refused the request for 'nope' .*pinned to"):
        fresh(f"openai:nope@{url}")


def test_nothing_listening_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("LLM_JUDGE_RETRIES", "0")
    with pytest.raises(ModelLoadError, match="cannot reach http://127.0.0.1:9/v1 .*is the server running"):
        fresh("openai:m@http://127.0.0.1:9/v1")


def test_a_wrong_key_is_refused_and_never_shown(monkeypatch, tmp_path):
    secret, wrong = "right-key-4711", "wrong-key-0815"
    with llama_cpp_server(api_key=secret, log_dir=tmp_path) as url:
        monkeypatch.setenv("LLM_JUDGE_API_KEY", wrong)
        with pytest.raises(ModelLoadError) as refused:
            fresh(f"openai:{LLAMA_ALIAS}@{url}")
        assert "refused the key in $LLM_JUDGE_API_KEY (401)" in str(refused.value)
        assert wrong not in str(refused.value) and secret not in str(refused.value)
        monkeypatch.setenv("LLM_JUDGE_API_KEY", secret)
        backend = fresh(f"openai:{LLAMA_ALIAS}@{url}")
        assert backend.complete(HELLO, SamplingSettings(max_new_tokens=4)).text
        assert secret not in str(backend.describe()) and secret not in backend.spec.text


def test_a_slow_reply_hits_the_read_timeout(monkeypatch, llama_server):
    backend = fresh(f"openai:{LLAMA_ALIAS}@{llama_server}")  # loaded (and probed) under the default limits
    # Under CI load even the probe's one-token replies can outlast 0.2 s, so the short limit comes after the load,
    # the way $LLM_JUDGE_TIMEOUT / $LLM_JUDGE_RETRIES would set it, read back from the environment.
    monkeypatch.setenv("LLM_JUDGE_TIMEOUT", "0.2")
    monkeypatch.setenv("LLM_JUDGE_RETRIES", "0")
    backend.limits = EndpointLimits.from_environment()
    backend.client = backend.client.with_options(timeout=backend.limits.read_timeout, max_retries=0)
    long_reply = SamplingSettings(temperature=0.0, min_p=0.0, max_new_tokens=400)
    with pytest.raises(EndpointError, match=r"sent nothing for 0.2 s .*raise \$LLM_JUDGE_TIMEOUT"):
        backend.score([{"role": "user", "content": "Write a long story about a dragon."}], long_reply)


def test_probabilities_read_from_a_served_reply_match_the_local_reading(llama_server):
    """The same GGUF, read two ways: teacher forcing in-process, and the server's top alternatives of its reply."""
    template = default_template("single")
    served = load_model(f"openai:{LLAMA_ALIAS}@{llama_server}")
    local = load_model("smollm2-135m-gguf")
    readings = [judge_single(judge, template, "What is 2+2?", "2+2 equals 4.", DEFAULT_JUDGE_SETTINGS,
                             method=PROBABILITIES) for judge in (served, local)]
    assert all(r.status == "ok" for r in readings)
    for criterion in template.criteria:
        assert readings[0].scores[criterion] == pytest.approx(readings[1].scores[criterion], abs=0.25)
        assert readings[0].confidence[criterion] > 0.5
    assert readings[0].call.input_tokens > 50  # a served judge's tokens are counted
