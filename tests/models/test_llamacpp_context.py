"""$LLM_JUDGE_LLAMA_CONTEXT: the context a llama.cpp model loads with (bad values: tests/hostile/test_env_cases.py; a
prompt cut to a 512-token context on the real model: tests/hostile/test_run_cases.py)."""
import pytest

from models.backends.llamacpp import CONTEXT_ENV, DEFAULT_CONTEXT, llama_context


@pytest.mark.parametrize("value, expected", [(None, DEFAULT_CONTEXT), ("", DEFAULT_CONTEXT), (" 2048 ", 2048),
                                             ("0", 0), ("256", 256), ("1048576", 1_048_576)])
def test_the_context_is_the_variable_s_tokens_else_the_default(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv(CONTEXT_ENV, raising=False)
    else:
        monkeypatch.setenv(CONTEXT_ENV, value)
    assert llama_context() == expected


@pytest.mark.parametrize("value", ["255", "1048577", "-1", "4k", "2048.0"])
def test_a_context_outside_what_llama_cpp_can_use_names_the_variable_and_the_fix(monkeypatch, value):
    from models.errors import SettingsError

    monkeypatch.setenv(CONTEXT_ENV, value)
    with pytest.raises(SettingsError, match=rf"\${CONTEXT_ENV} must be a whole number of tokens .* unset it for 4096"):
        llama_context()
