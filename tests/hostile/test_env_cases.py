"""Bad values of every LLM_JUDGE_* environment variable (issue 25, item 2), one named case each: a word where a number
goes, a digit Python's int() cannot read ('²'), NaN, infinity, a number past any sensible bound, a negative count, a
file where a folder goes, a typo in a switch, an API key a request header cannot carry.

Each is the reader's own user-facing error naming the variable, what it takes and never a secret it holds; through the
CLI it is one line and exit 2 before anything runs, and the app refuses to start with one line and exit 2.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from basics import REPO_ROOT, UserFacingError
from models import accelerators, registry, threads
from models.endpoints import EndpointLimits, api_key_for
from runs import public

from helpers import judge_cli

JUDGE = "scripted:Relevance: 4\\nCoherence: 3\\nCompleteness: 4"
SCRIPTED = ["--model-a", "scripted:hello there", "--model-b", "scripted:world", "--judge", JUDGE]


def limits():
    return EndpointLimits.from_environment()


def max_models():
    registry._MAX_LOADED[0] = None  # read again, as a fresh process would
    return registry.max_loaded()


def gpu_layers():
    return accelerators.llama_gpu_layers(supports_offload=False)  # a bad value is said even on a CPU build


def head_bfloat16():
    from types import SimpleNamespace

    from models.feature_readers import reads_bfloat16
    return reads_bfloat16({"reads_bfloat16": True}, SimpleNamespace(name="transformers", device="cpu"))


def llama_context():
    from models.backends.llamacpp import llama_context

    return llama_context()


def save_a_template():
    from judge.templates import load_template, save_template

    return save_template(load_template("judge_single").to_yaml(), "mine")


def convert_the_embedded_model():
    from models.embedded import EMBEDDED_MODELS, ensure_converted

    return ensure_converted(EMBEDDED_MODELS["smollm2-135m"])


def a_served_key():
    return api_key_for("http://127.0.0.1:8000/v1")


def a_served_spec():
    from models.spec import parse_model_spec

    return parse_model_spec("openai:gpt-4o-mini")  # no URL: the variable's is used


# (case) -> (variable, value ("{file}": a file that exists), what reads it, what the message must say)
CASES = [
    pytest.param("LLM_JUDGE_THREADS", "two", threads.configured_threads, "whole number of threads from 1 to 1024",
                 id="LLM_JUDGE_THREADS as a word"),
    pytest.param("LLM_JUDGE_THREADS", "0", threads.configured_threads, "from 1 to 1024, got '0'",
                 id="LLM_JUDGE_THREADS of 0"),
    pytest.param("LLM_JUDGE_THREADS", "²", threads.configured_threads, "got '²'",
                 id="LLM_JUDGE_THREADS as a superscript digit"),
    pytest.param("LLM_JUDGE_THREADS", "99999999999999999999", threads.configured_threads, "from 1 to 1024",
                 id="LLM_JUDGE_THREADS past a 32-bit count"),
    pytest.param("LLM_JUDGE_MAX_MODELS", "abc", max_models, "whole number of models from 0 (no limit) to 1000",
                 id="LLM_JUDGE_MAX_MODELS as a word (was a traceback at import)"),
    pytest.param("LLM_JUDGE_MAX_MODELS", "-1", max_models, "got '-1'",
                 id="LLM_JUDGE_MAX_MODELS negative (was a KeyError at the first load)"),
    pytest.param("LLM_JUDGE_LLAMA_CONTEXT", "8k", llama_context, "whole number of tokens from 256 to 1,048,576",
                 id="LLM_JUDGE_LLAMA_CONTEXT with a unit"),
    pytest.param("LLM_JUDGE_LLAMA_CONTEXT", "16", llama_context, "got '16'; unset it for 4096",
                 id="LLM_JUDGE_LLAMA_CONTEXT too small for a chat template"),
    pytest.param("LLM_JUDGE_HEAD_BFLOAT16", "yes", head_bfloat16, "must be auto (bfloat16 where the CPU has AMX",
                 id="LLM_JUDGE_HEAD_BFLOAT16 a word it does not take"),
    pytest.param("LLM_JUDGE_GPU_LAYERS", "all", gpu_layers, "-1 (all), 0 (none) or N", id="LLM_JUDGE_GPU_LAYERS a word"),
    pytest.param("LLM_JUDGE_GPU_LAYERS", "99999999999999999999", gpu_layers, "-1 (all), 0 (none) or N",
                 id="LLM_JUDGE_GPU_LAYERS past a 32-bit count"),
    pytest.param("LLM_JUDGE_INFERENCE_ENGINE", "vllm", accelerators.requested_inference_engine,
                 "must be one of auto, transformers, unsloth", id="LLM_JUDGE_INFERENCE_ENGINE unknown"),
    pytest.param("LLM_JUDGE_TIMEOUT", "nan", limits, "$LLM_JUDGE_TIMEOUT must be a number from 0.001 to 86400",
                 id="LLM_JUDGE_TIMEOUT NaN"),
    pytest.param("LLM_JUDGE_TIMEOUT", "inf", limits, "from 0.001 to 86400, got 'inf'", id="LLM_JUDGE_TIMEOUT infinite"),
    pytest.param("LLM_JUDGE_TIMEOUT", "-5", limits, "got '-5'", id="LLM_JUDGE_TIMEOUT negative"),
    pytest.param("LLM_JUDGE_CONNECT_TIMEOUT", "1e400", limits, "$LLM_JUDGE_CONNECT_TIMEOUT must be a number",
                 id="LLM_JUDGE_CONNECT_TIMEOUT 1e400 (infinite as a float)"),
    pytest.param("LLM_JUDGE_CONNECT_TIMEOUT", "ten", limits, "got 'ten'", id="LLM_JUDGE_CONNECT_TIMEOUT a word"),
    pytest.param("LLM_JUDGE_RETRIES", "99999999999999999999999", limits, "$LLM_JUDGE_RETRIES must be a number from 0 "
                 "to 100", id="LLM_JUDGE_RETRIES huge"),
    pytest.param("LLM_JUDGE_RETRIES", "1.5", limits, "got '1.5'", id="LLM_JUDGE_RETRIES not whole"),
    pytest.param("LLM_JUDGE_CONCURRENCY", "0", limits, "$LLM_JUDGE_CONCURRENCY must be a number from 0.001 to 1000",
                 id="LLM_JUDGE_CONCURRENCY 0"),
    pytest.param("LLM_JUDGE_CONCURRENCY", "99999999999999999999999", limits, "to 1000", id="LLM_JUDGE_CONCURRENCY huge"),
    pytest.param("LLM_JUDGE_API_KEY", "sk-abc\ndef", a_served_key, "holds a character a request header cannot carry "
                 "(character 7 of 10", id="LLM_JUDGE_API_KEY with a line break"),
    pytest.param("LLM_JUDGE_API_KEY", "sk-clé", a_served_key, "character 6 of 6: a line break, a control character or "
                 "a letter outside ASCII", id="LLM_JUDGE_API_KEY with a letter outside ASCII (was a traceback)"),
    pytest.param("LLM_JUDGE_BASE_URL", "file:///etc/passwd", a_served_spec,
                 "base URL 'file:///etc/passwd' is not an http(s) URL", id="LLM_JUDGE_BASE_URL file://"),
    pytest.param("LLM_JUDGE_PUBLIC", "ture", public.public_mode_on, "$LLM_JUDGE_PUBLIC must be 1, true, yes or on",
                 id="LLM_JUDGE_PUBLIC with a typo (was a silently private app)"),
    pytest.param("LLM_JUDGE_APP_CONCURRENCY", "²", public.app_concurrency, "whole number from 1 to 64, got '²'",
                 id="LLM_JUDGE_APP_CONCURRENCY as a superscript digit (was a traceback)"),
    pytest.param("LLM_JUDGE_APP_CONCURRENCY", "1000", public.app_concurrency, "from 1 to 64",
                 id="LLM_JUDGE_APP_CONCURRENCY over 64"),
    pytest.param("LLM_JUDGE_AUTH", "ana", public.app_auth, "every login must be user:password",
                 id="LLM_JUDGE_AUTH without a password"),
    pytest.param("LLM_JUDGE_AUTH_FILE", "{tmp}/no-logins.txt", public.app_auth, "cannot read the logins file",
                 id="LLM_JUDGE_AUTH_FILE missing"),
    pytest.param("LLM_JUDGE_PUBLIC_CONFIG", "{file}", public.load_public_policy, "expected a mapping with a `models:`",
                 id="LLM_JUDGE_PUBLIC_CONFIG naming a file that is no allow-list"),
    pytest.param("LLM_JUDGE_TEMPLATES", "{file}", save_a_template, "set $LLM_JUDGE_TEMPLATES to a folder you can "
                 "write to", id="LLM_JUDGE_TEMPLATES naming a file, on saving (was a FileExistsError)"),
    pytest.param("LLM_JUDGE_CACHE", "{file}", convert_the_embedded_model, "cannot make the model cache folder",
                 id="LLM_JUDGE_CACHE naming a file (was a NotADirectoryError)"),
]


@pytest.mark.parametrize("variable, value, read, expected", CASES)
def test_a_bad_environment_value_is_a_clear_error_naming_the_variable(tmp_path, monkeypatch, variable, value, read,
                                                                     expected):
    a_file = tmp_path / "a-file"
    a_file.write_text("just text\n")
    monkeypatch.setenv(variable, value.replace("{file}", str(a_file)).replace("{tmp}", str(tmp_path)))
    monkeypatch.setattr(registry, "_MAX_LOADED", [None])
    with pytest.raises(UserFacingError) as caught:
        read()
    message = str(caught.value)
    assert expected in message and "\n" not in message, message
    assert variable in message or variable in {"LLM_JUDGE_BASE_URL", "LLM_JUDGE_PUBLIC_CONFIG", "LLM_JUDGE_AUTH_FILE"}
    if variable == "LLM_JUDGE_API_KEY":
        assert "sk-" not in message, "the key is never shown"


def test_a_file_where_an_optional_folder_goes_means_no_such_folder(tmp_path, monkeypatch):
    """LLM_JUDGE_PERSISTENT_DIR and LLM_JUDGE_ADAPTERS naming a file: no persistent storage, no adapters offered."""
    from basics import persistent_dir
    from models.spec import known_model_specs, parse_model_spec

    (tmp_path / "a-file").write_text("x")
    monkeypatch.setenv("LLM_JUDGE_PERSISTENT_DIR", str(tmp_path / "a-file"))
    monkeypatch.setenv("LLM_JUDGE_ADAPTERS", str(tmp_path / "a-file"))
    assert persistent_dir() is None
    assert "smollm2-135m" in known_model_specs()
    with pytest.raises(UserFacingError, match="adapter 'mylora' not found"):
        parse_model_spec("smollm2-135m+mylora")


# --------------------------------------------------------------------------------------------- through the CLI

@pytest.mark.process  # the judge CLI in its own process, case by case
@pytest.mark.parametrize("variable, value, expected", [
    pytest.param("LLM_JUDGE_MAX_MODELS", "abc", "$LLM_JUDGE_MAX_MODELS must be a whole number",
                 id="CLI: LLM_JUDGE_MAX_MODELS as a word"),
    pytest.param("LLM_JUDGE_RESULTS", "{file}", "cannot use the judge cache",
                 id="CLI: LLM_JUDGE_RESULTS naming a file, --out elsewhere (was a NotADirectoryError)"),
    pytest.param("LLM_JUDGE_API_KEY", "sk-clé", "holds a character a request header cannot carry",
                 id="CLI: LLM_JUDGE_API_KEY outside ASCII with a served model (was a traceback)"),
])
def test_the_cli_says_a_bad_environment_value_in_one_line_before_any_run_folder(tmp_path, variable, value, expected):
    (tmp_path / "a-file").write_text("x")
    env = {**os.environ, variable: value.replace("{file}", str(tmp_path / "a-file")), "LLM_JUDGE_RETRIES": "0"}
    args = ["--model-a", "openai:m@http://127.0.0.1:9/v1", *SCRIPTED[2:]] if variable == "LLM_JUDGE_API_KEY" \
        else SCRIPTED
    result = judge_cli("--prompt", "hi", *args, out=tmp_path / "out", env=env, timeout=120)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("error: ") and expected in lines[0] and "sk-cl" not in lines[0]
    assert not (tmp_path / "out").is_dir() or not any((tmp_path / "out").iterdir())


@pytest.mark.process  # the app in its own process, case by case
@pytest.mark.parametrize("variable, value, args, expected", [
    pytest.param("LLM_JUDGE_PUBLIC", "ture", [], "$LLM_JUDGE_PUBLIC must be 1, true, yes or on",
                 id="app: LLM_JUDGE_PUBLIC with a typo"),
    pytest.param("LLM_JUDGE_PRELOAD", "yes", [], "$LLM_JUDGE_PRELOAD must be 1", id="app: LLM_JUDGE_PRELOAD yes"),
    pytest.param("LLM_JUDGE_APP_CONCURRENCY", "²", ["--public"], "$LLM_JUDGE_APP_CONCURRENCY must be a whole number",
                 id="app: LLM_JUDGE_APP_CONCURRENCY as a superscript digit (was a traceback)"),
])
def test_the_app_refuses_to_start_on_a_bad_value_with_one_line(tmp_path, variable, value, args, expected):
    env = {**os.environ, "GRADIO_SERVER_PORT": "1", "LLM_JUDGE_PRELOAD": "0", variable: value}
    result = subprocess.run([sys.executable, "app.py", *args], cwd=REPO_ROOT, env=env, capture_output=True,
                            text=True, timeout=180, stdin=subprocess.DEVNULL)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert len(errors) == 1 and expected in errors[0], result.stderr[-2000:]
