"""The scoring judge's torch-only reading of a Llama base (models/torch_llama.py) against transformers' own model: the
same features bit for bit, float32 and bfloat16, padded batches included; used only where it applies, one copy of a
base where the registry holds it already, and without transformers in the process."""
import gc
import json
import subprocess
import sys

import numpy as np
import pytest

from models.reward_head import answer_features

pytestmark = pytest.mark.model
PROMPT = "How do I bake a simple sponge cake?"
# Lengths far apart, so the batch is padded and the reading's boolean mask is the one in use.
ANSWERS = ["Mix 200 g each of flour, sugar and butter with four eggs, then bake at 180 C for 25 minutes. " * 3,
           "Bake it.", "Cakes are made of stone and sung to sleep."]


@pytest.fixture
def unloaded():
    from models.registry import unload_all

    unload_all()
    yield
    unload_all()


@pytest.mark.parametrize("weights", ["float32", "bfloat16"])
def test_the_torch_reading_gives_transformers_features_bit_for_bit(unloaded, weights):
    from models import load_model
    from models.backends.head import reading_base
    from models.feature_readers import feature_reader

    torch_base = reading_base("smollm2-135m")  # nothing loaded yet: the torch reader
    assert torch_base.engine == "torch" and type(torch_base.model).__name__ == "LlamaReader"
    ours = answer_features(feature_reader(torch_base, weights)[0], PROMPT, ANSWERS)
    theirs = answer_features(feature_reader(load_model("smollm2-135m"), weights)[0], PROMPT, ANSWERS)
    assert ours.shape == theirs.shape and np.array_equal(ours, theirs)


def test_a_base_the_registry_holds_is_read_from_there_and_readers_are_shared(unloaded):
    from models import load_model
    from models.backends.head import reading_base
    from models.registry import unload_all

    first, again = reading_base("smollm2-135m"), reading_base("smollm2-135m")
    assert first is again
    del first, again
    gc.collect()
    # The default judge reads bfloat16 through a wrapper of the reader, the toxicity judge float32 from the reader
    # itself: one copy of the weights between them, kept while either is loaded.
    default, toxicity = load_model("smollm2-135m-judge"), load_model("toxicity")
    gc.collect()
    assert getattr(default.base.model, "_float32", default.base.model) is toxicity.base.model
    unload_all()
    held = load_model("smollm2-135m")  # Model A on transformers, say
    assert reading_base("smollm2-135m") is held  # no second copy of it in memory
    assert reading_base("smollm2-135m", "int8") is held  # int8 quantises transformers' modules
    assert reading_base("smollm2-135m-gguf") is load_model("smollm2-135m-gguf")  # not a transformers base


def test_a_folder_the_reader_was_not_checked_on_goes_to_transformers(tmp_path):
    from models.embedded import EMBEDDED_MODELS, ensure_converted
    from models.torch_llama import readable_folder

    source = ensure_converted(EMBEDDED_MODELS["smollm2-135m"])
    assert readable_folder(source)
    config = json.loads((source / "config.json").read_text())
    for change in ({"model_type": "qwen2"}, {"rope_parameters": {"rope_type": "yarn", "rope_theta": 1e5}},
                   {"attention_bias": True}, {"hidden_act": "gelu"}):
        folder = tmp_path / next(iter(change))
        folder.mkdir()
        for name in ("model.safetensors", "tokenizer.json"):
            (folder / name).symlink_to(source / name)
        (folder / "config.json").write_text(json.dumps({**config, **change}))
        assert not readable_folder(folder), change
    assert not readable_folder(tmp_path / "missing")


def test_the_default_judge_scores_without_transformers_in_the_process(tmp_path):
    # Its model code (models/torch_llama.py) and its tokenizer (models/chat_tokenizer.py): not even the package.
    script = ("import sys, json; from models import load_model; judge = load_model('smollm2-135m-judge'); "
              "scores = judge.answer_scores('Name a colour.', ['Blue.', 'Trains.']); "
              "print(json.dumps({'engine': judge.describe()['engine'], 'scores': scores, 'model_code': "
              "[m for m in ('transformers', 'transformers.modeling_utils', 'transformers.models.llama.modeling_llama') "
              "if m in sys.modules]}))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, "LLM_JUDGE_RESULTS": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["engine"] == "torch" and found["model_code"] == []
    assert len(found["scores"]) == 2 and set(found["scores"][0]) == {"relevance", "coherence", "completeness"}


def test_a_run_whose_model_a_is_the_judge_s_base_keeps_one_copy_of_it(unloaded, tmp_path):
    from models import load_model
    from runs.config import CompareConfig
    from runs.pipeline import load_backends

    config = CompareConfig(model_a="smollm2-135m", model_b="scripted:B", judge="smollm2-135m-judge",
                           out_dir=str(tmp_path))
    backends = load_backends(config)  # the answering models load first, so the judge finds its base among them
    read_with = load_model("smollm2-135m-judge").base.model
    assert getattr(read_with, "_float32", read_with) is backends["model_a"].model  # bfloat16 reads share it too
