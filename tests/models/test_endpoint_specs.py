"""`openai:` specs, base URLs and keys: parsed without any server (tests/models/test_openai_backend.py has servers)."""
import pytest

from models import ModelSpecError, parse_model_spec
from models.endpoints import EndpointLimits, api_key_for, endpoint_spec_text, redact, with_base_url
from runs.config import CompareConfig


def test_a_spec_names_its_url_or_takes_the_environments(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("LLM_JUDGE_BASE_URL", "http://gpu-box:8000/v1/")
    spec = parse_model_spec("openai:Qwen/Qwen2.5-7B-Instruct")
    assert spec.text == "openai:Qwen/Qwen2.5-7B-Instruct@http://gpu-box:8000/v1" and spec.backend == "openai"
    own = parse_model_spec("openai:llama3:8b@http://127.0.0.1:11434/v1")
    assert own.text == "openai:llama3:8b@http://127.0.0.1:11434/v1"  # Ollama's names hold ':'
    monkeypatch.delenv("LLM_JUDGE_BASE_URL")
    assert parse_model_spec("openai:gpt-4o").text == "openai:gpt-4o@https://api.openai.com/v1"


def test_base_url_fills_only_specs_without_one():
    assert with_base_url("openai:m", "http://a:1/v1") == "openai:m@http://a:1/v1"
    assert with_base_url("openai:m@http://b:2/v1", "http://a:1/v1") == "openai:m@http://b:2/v1"
    assert with_base_url("smollm2-135m", "http://a:1/v1") == "smollm2-135m"


@pytest.mark.parametrize("text, message", [
    ("openai:m@http://user:sk-123@host/v1", "must not carry credentials"),
    ("openai:m@http://host/v1?api_key=sk-1", "must not carry credentials"),
    ("openai:@http://host/v1", "needs the served model's name"),
])
def test_bad_endpoint_specs_say_what_to_write(text, message):
    with pytest.raises(ModelSpecError, match=message):
        parse_model_spec(text)
    with pytest.raises(ModelSpecError):
        endpoint_spec_text(text)


def test_the_key_comes_from_the_environment_only(monkeypatch):
    for name in ("LLM_JUDGE_API_KEY", "OPENAI_API_KEY", "HF_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert api_key_for("http://127.0.0.1:8000/v1") == ("no-key", None)
    monkeypatch.setenv("HF_TOKEN", "hf_abc")
    assert api_key_for("https://router.huggingface.co/v1") == ("hf_abc", "HF_TOKEN")
    assert api_key_for("http://127.0.0.1:8000/v1")[1] is None  # a Hugging Face token goes to Hugging Face only
    monkeypatch.setenv("LLM_JUDGE_API_KEY", "sk-secret-1")
    assert redact("bad header Bearer sk-secret-1", "http://h/v1") == "bad header Bearer [key]"


def test_limits_come_from_the_environment_and_bad_values_are_named(monkeypatch):
    monkeypatch.setenv("LLM_JUDGE_CONCURRENCY", "3")
    monkeypatch.setenv("LLM_JUDGE_RETRIES", "0")
    limits = EndpointLimits.from_environment()
    assert (limits.concurrency, limits.retries) == (3, 0)
    monkeypatch.setenv("LLM_JUDGE_TIMEOUT", "soon")
    with pytest.raises(Exception, match=r"\$LLM_JUDGE_TIMEOUT must be a number"):
        EndpointLimits.from_environment()


def test_concurrency_is_automatic_where_a_served_model_takes_part():
    assert CompareConfig().resolved_concurrency() == 1
    assert CompareConfig(judge="openai:m@http://h:1/v1").resolved_concurrency() == 8
    assert CompareConfig(judge="openai:m@http://h:1/v1", concurrency=2).resolved_concurrency() == 2
