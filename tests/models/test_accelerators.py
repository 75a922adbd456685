"""GPU use (models/accelerators.py): the llama.cpp layer count, the inference engine choice, and what the real
backends report on this CPU-only machine. The choices are tables over what is requested and what is available,
passed in as arguments: nothing is mocked."""
from __future__ import annotations

import pytest
import torch

from models import ModelLoadError, SettingsError, parse_model_spec
from models.accelerators import (
    GPU_LAYERS_ENV,
    INFERENCE_ENGINE_ENV,
    choose_inference_engine,
    llama_gpu_layers,
    llama_supports_offload,
    parse_gpu_layers,
    pick_inference_engine,
    requested_inference_engine,
)

# These machines (developers', CI) have CPU builds of torch and llama-cpp-python; on a GPU machine the tests of what
# this machine reports are skipped (benchmarks/gpu_paths.py measures those paths there).
ON_CPU_BUILDS = not llama_supports_offload() and not torch.cuda.is_available()
cpu_builds_only = pytest.mark.skipif(not ON_CPU_BUILDS, reason="a GPU machine: CUDA or an offloading llama.cpp")


@pytest.mark.parametrize("text, layers", [(None, None), ("", None), ("  ", None), ("-1", -1), ("0", 0), ("12", 12),
                                          (" 7 ", 7), ("+3", 3)])
def test_gpu_layers_read_from_the_environment(text, layers):
    assert parse_gpu_layers(text) == layers


@pytest.mark.parametrize("text", ["-2", "all", "1.5", "ten", "0x10", "1e3", "--1"])
def test_a_bad_gpu_layer_count_names_the_variable_and_the_accepted_values(text):
    with pytest.raises(SettingsError) as caught:
        parse_gpu_layers(text)
    assert f"${GPU_LAYERS_ENV} must be a whole number of layers: -1 (all), 0 (none) or N" in str(caught.value)
    assert repr(text) in str(caught.value)


@pytest.mark.parametrize("env, offload, layers", [
    (None, True, -1),   # a CUDA build: every layer
    ("0", True, 0),     # kept on the CPU by choice
    ("8", True, 8),     # the first 8
    (None, False, 0),   # a CPU build offloads nothing, whatever is asked
    ("8", False, 0),
    ("-1", False, 0),
])
def test_llama_gpu_layers_follow_the_build_and_the_environment(monkeypatch, env, offload, layers):
    if env is None:
        monkeypatch.delenv(GPU_LAYERS_ENV, raising=False)
    else:
        monkeypatch.setenv(GPU_LAYERS_ENV, env)
    assert llama_gpu_layers(supports_offload=offload) == layers


def test_a_bad_gpu_layer_count_is_named_even_on_a_cpu_build(monkeypatch):
    monkeypatch.setenv(GPU_LAYERS_ENV, "all")
    with pytest.raises(SettingsError, match=GPU_LAYERS_ENV):
        llama_gpu_layers(supports_offload=False)


@pytest.mark.parametrize("env, engine", [(None, "auto"), ("", "auto"), ("auto", "auto"), ("transformers", "transformers"),
                                         (" Unsloth ", "unsloth")])
def test_the_requested_engine_is_read_from_the_environment(monkeypatch, env, engine):
    if env is None:
        monkeypatch.delenv(INFERENCE_ENGINE_ENV, raising=False)
    else:
        monkeypatch.setenv(INFERENCE_ENGINE_ENV, env)
    assert requested_inference_engine() == engine


@pytest.mark.parametrize("env", ["vllm", "peft", "unsloth,transformers", "1"])
def test_a_bad_engine_names_the_variable_and_the_accepted_values(monkeypatch, env):
    monkeypatch.setenv(INFERENCE_ENGINE_ENV, env)
    with pytest.raises(SettingsError) as caught:
        requested_inference_engine()
    assert f"${INFERENCE_ENGINE_ENV} must be one of auto, transformers, unsloth, got {env!r}" == str(caught.value)


# requested, cuda, Unsloth installed, Unsloth's greedy answers verified -> engine, or the start of the error's "(...)"
ENGINE_TABLE = [
    ("transformers", False, False, False, "transformers"),
    ("transformers", True, True, True, "transformers"),
    ("auto", False, False, False, "transformers"),
    ("auto", True, False, False, "transformers"),
    ("auto", False, True, False, "transformers"),
    ("auto", True, True, False, "transformers"),  # today: not verified, so auto keeps transformers
    ("auto", True, True, True, "unsloth"),        # once a GPU run shows the same greedy answers
    ("auto", False, True, True, "transformers"),
    ("auto", True, False, True, "transformers"),
    ("unsloth", True, True, False, "unsloth"),    # asked for by name: taken where it can run, verified or not
    ("unsloth", False, True, False, "error: no CUDA GPU is visible)"),
    ("unsloth", True, False, False, "error: Unsloth is not installed)"),
    ("unsloth", False, False, True, "error: no CUDA GPU is visible and Unsloth is not installed)"),
]


@pytest.mark.parametrize("requested, cuda, unsloth, verified, expected", ENGINE_TABLE)
def test_engine_choice_table(requested, cuda, unsloth, verified, expected):
    if not expected.startswith("error: "):
        assert choose_inference_engine(requested, cuda, unsloth, verified) == expected
        return
    with pytest.raises(ModelLoadError) as caught:
        choose_inference_engine(requested, cuda, unsloth, verified)
    message = str(caught.value)
    assert f"needs a CUDA GPU and Unsloth ({expected.removeprefix('error: ')}" in message
    assert "`pip install -r requirements-gpu.txt` on a CUDA machine" in message
    assert f"{INFERENCE_ENGINE_ENV}=transformers" in message


def test_an_unknown_engine_passed_in_is_refused():
    with pytest.raises(SettingsError, match="must be one of auto, transformers, unsloth, got 'fast'"):
        choose_inference_engine("fast", True, True)


def test_auto_keeps_transformers_until_unsloth_is_measured_equal(monkeypatch):
    """The shipped default: `auto` on a CUDA machine with Unsloth still picks transformers (see README, GPUs)."""
    monkeypatch.delenv(INFERENCE_ENGINE_ENV, raising=False)
    assert pick_inference_engine(cuda=True, unsloth=True) == "transformers"
    monkeypatch.setenv(INFERENCE_ENGINE_ENV, "unsloth")
    assert pick_inference_engine(cuda=True, unsloth=True) == "unsloth"
    with pytest.raises(ModelLoadError, match="no CUDA GPU is visible"):
        pick_inference_engine(cuda=False, unsloth=True)


@cpu_builds_only
def test_this_machine_has_neither_cuda_nor_an_offloading_llama_cpp(monkeypatch):
    """What the real checks say here (CPU builds of torch and llama-cpp-python): no GPU is used."""
    monkeypatch.delenv(GPU_LAYERS_ENV, raising=False)
    monkeypatch.delenv(INFERENCE_ENGINE_ENV, raising=False)
    assert llama_supports_offload() is False
    assert llama_gpu_layers() == 0
    assert pick_inference_engine() == "transformers"


# ------------------------------------------------------------------------------------- real embedded models

@pytest.mark.model
@cpu_builds_only
def test_llamacpp_reports_no_offload_on_this_cpu_build(gguf):
    described = gguf.describe()
    assert described["gpu_layers"] == 0 and described["offload"] is False
    assert gguf.computes_on_this_cpu


@pytest.mark.model
@pytest.mark.parametrize("layers, on_cpu", [(-1, False), (0, True), (5, True), ("all", False)])
def test_llamacpp_with_every_layer_offloaded_does_not_compute_on_this_cpu(gguf, layers, on_cpu):
    """computes_on_this_cpu as a CUDA build would have it: the same loaded model, described as offloaded."""
    from models.backends.llamacpp import LlamaCppBackend

    if layers == "all":
        layers = gguf.layer_count()  # every layer by count, as $LLM_JUDGE_GPU_LAYERS=30 would give on SmolLM2-135M
    twin = LlamaCppBackend(spec=gguf.spec, llm=gguf.llm, gpu_layers=layers, offload=True)
    assert twin.computes_on_this_cpu is on_cpu
    assert twin.describe()["gpu_layers"] == layers and twin.describe()["offload"] is True


@pytest.mark.model
@cpu_builds_only
def test_transformers_reports_its_engine(base):
    described = base.describe()
    assert described["engine"] == "transformers"
    assert described["device"] == "cpu" and described["dtype"] == "float32"


@pytest.mark.model
@cpu_builds_only
def test_asking_for_unsloth_here_fails_before_the_weights_are_read(monkeypatch):
    from models.backends.hf import load_transformers_backend

    monkeypatch.setenv(INFERENCE_ENGINE_ENV, "unsloth")
    with pytest.raises(ModelLoadError, match=r"no CUDA GPU is visible.*requirements-gpu\.txt"):
        load_transformers_backend(parse_model_spec("smollm2-135m"))


@pytest.mark.model
@cpu_builds_only
def test_a_scoring_judge_reports_where_its_base_computes():
    from models import load_model
    from models.registry import unload_all

    unload_all()  # its base not loaded as a model of its own: read by models/torch_llama.py
    described = load_model("smollm2-135m-judge").describe()
    assert (described["device"], described["dtype"], described["engine"]) == ("cpu", "float32", "torch")
    unload_all()
