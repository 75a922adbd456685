"""The backend registry, declared capabilities, and the scripted backend (given replies, for fast pipeline tests)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from models import BACKENDS, Capabilities, ModelLoadError, ModelSpecError, SamplingSettings, load_model
from models.backends.hf import TransformersBackend
from models.backends.llamacpp import LlamaCppBackend
from models.backends.scripted import ScriptedBackend, scripted_replies
from models.registry import backend_factory, unload_all
from models.spec import parse_model_spec

REPO_ROOT = Path(__file__).resolve().parents[2]
SETTINGS = SamplingSettings(temperature=0.0, min_p=0.0, max_new_tokens=64)


@pytest.fixture(autouse=True)
def empty_cache():
    unload_all()
    yield
    unload_all()


@pytest.mark.parametrize("spec, backend", [
    ("smollm2-135m", "transformers"), ("smollm2-135m-gguf", "llamacpp"), ("org/name", "transformers"),
    ("scripted:hello", "scripted"), ("scripted:a+b||c", "scripted"),
])
def test_each_spec_names_a_registered_backend(spec, backend):
    parsed = parse_model_spec(spec)
    assert parsed.backend == backend and backend in BACKENDS


def test_a_scripted_spec_keeps_every_character_and_has_no_adapter():
    parsed = parse_model_spec("scripted:A+B is not an adapter")
    assert (parsed.text, parsed.base_kind, parsed.adapter) == ("scripted:A+B is not an adapter", "scripted", None)


def test_unknown_backend_name_is_a_clear_error():
    with pytest.raises(ModelSpecError, match="no backend named 'vllm'; known backends: transformers"):
        backend_factory("vllm")


def test_capabilities_are_declared_per_backend():
    assert TransformersBackend.capabilities.token_probabilities and TransformersBackend.capabilities.perplexity
    assert TransformersBackend.capabilities.batched_generation
    assert LlamaCppBackend.capabilities == Capabilities(grammar=True, token_probabilities=True,
                                                        batched_generation=True, perplexity=True)
    assert ScriptedBackend.capabilities == Capabilities()
    assert all(c.streaming for c in (TransformersBackend.capabilities, LlamaCppBackend.capabilities))


def test_declared_capabilities_come_from_the_serving_backend_class_without_loading_anything():
    from models.registry import BACKEND_CLASSES, declared_capabilities, loaded_models

    assert set(BACKEND_CLASSES) == set(BACKENDS)  # every registered backend declares its capabilities
    assert declared_capabilities("smollm2-135m-judge").answer_scores  # the shipped scoring judge: a reward head
    assert declared_capabilities("smollm2-135m-gguf") == LlamaCppBackend.capabilities
    assert declared_capabilities("scripted:hello") == ScriptedBackend.capabilities
    assert not declared_capabilities("openai:m@http://127.0.0.1:9/v1").answer_scores  # probed when it loads
    assert loaded_models() == []
    with pytest.raises(ModelSpecError):
        declared_capabilities("no-such-model-alias")


def test_scripted_replies_come_in_turn_and_cycle():
    backend = load_model("scripted:first||second\\nline two")
    assert isinstance(backend, ScriptedBackend)
    messages = [{"role": "user", "content": "hi"}]
    texts = [backend.complete(messages, SETTINGS).text for _ in range(3)]
    assert texts == ["first", "second\nline two", "first"]
    assert backend.calls == [messages] * 3  # every conversation it was given is kept for inspection
    assert load_model("scripted:first||second\\nline two") is backend  # cached like any model


def test_scripted_streams_word_by_word_and_honours_the_length_limit():
    backend = load_model("scripted:one two three four")
    pieces = list(backend.generate([{"role": "user", "content": "x"}], SETTINGS.with_(max_new_tokens=3)))
    assert pieces == ["one", " two", " three"]
    generation = backend.complete([{"role": "user", "content": "x"}], SETTINGS)
    assert (generation.text, generation.n_tokens) == ("one two three four", 4)


def test_scripted_judge_scores_ignore_the_grammar_and_say_so():
    backend = load_model("scripted:Relevance: 9")
    assert not backend.supports_grammar
    reply = backend.score([{"role": "user", "content": "grade"}], SETTINGS, grammar='root ::= "x"')
    assert reply.text == "Relevance: 9"  # given text verbatim: it never pretends to follow a grammar
    assert backend.describe()["capabilities"]["grammar"] is False


def test_scripted_replies_from_a_file(tmp_path):
    path = tmp_path / "replies.json"
    path.write_text(json.dumps(["alpha", "beta"]), encoding="utf-8")
    assert scripted_replies(f"scripted:@{path}") == ["alpha", "beta"]


@pytest.mark.parametrize("content, expected", [
    (None, "cannot be read"), ("not json", "cannot be read"), ("[]", "non-empty JSON list of strings"),
    ('{"a": 1}', "non-empty JSON list of strings"), ("[1, 2]", "non-empty JSON list of strings"),
])
def test_bad_scripted_files_are_clear_errors(tmp_path, content, expected):
    path = tmp_path / "replies.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ModelLoadError, match=expected):
        load_model(f"scripted:@{path}")


def test_a_scripted_spec_without_replies_is_refused():
    with pytest.raises(ModelSpecError, match="needs its replies"):
        load_model("scripted:")


def test_backends_import_their_libraries_only_when_used():
    """Loading a scripted model imports neither torch nor llama_cpp: the registry imports a backend on first use."""
    code = ("import sys; from models import load_model; load_model('scripted:x'); "
            "print(sorted(m for m in ('torch', 'llama_cpp', 'transformers') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_at_most_n_models_stay_loaded_and_the_least_recently_used_goes_first():
    from models.registry import loaded_models, set_max_loaded

    set_max_loaded(2)
    try:
        first = load_model("scripted:one")
        load_model("scripted:two")
        assert load_model("scripted:one") is first  # used again: now the most recent
        load_model("scripted:three")
        assert loaded_models() == ["scripted:one", "scripted:three"]
        assert load_model("scripted:two") is not None and "scripted:one" not in loaded_models()
    finally:
        set_max_loaded(0)
    with pytest.raises(ModelSpecError, match="0 \\(no limit\\) or more"):
        set_max_loaded(-1)
