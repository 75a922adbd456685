"""Hub ids resolved and loaded through the real resolution, download and loading code, from a local Hugging Face cache
in the hub's layout (tests/hub_replica.py) with HF_HUB_OFFLINE=1: nothing is replaced but the network.

The repos mirror what people publish: a GGUF repo with several quantizations (push_to_hub_gguf), the seed Space's two
float16 GGUF fine-tunes, a merged model, a LoRA pushed on an Unsloth 4-bit base, and a GGUF LoRA repo.
"""
import json
import os

import pytest
from hub_replica import ADAPTER_REPO, BNB_BASE, GGUF_LORA_REPO, GGUF_REPO, MERGED_REPO, SEED_MODELS, TWIN_BASE

from models import load_model, parse_model_spec
from models.errors import ModelSpecError
from models.settings import SamplingSettings
from models.spec import known_model_specs

from helpers import judge_cli

pytestmark = pytest.mark.model  # the replica is made of real model files (quantized by llama.cpp, ~15 s once)
GREEDY = SamplingSettings(temperature=0.0, max_new_tokens=16)
ASK = [{"role": "user", "content": "Name three fruits."}]


def commit_of(cache, repo: str) -> str:
    return (cache / ("models--" + repo.replace("/", "--")) / "refs" / "main").read_text().strip()


@pytest.mark.parametrize("typed, text, backend, base_file, notice", [
    (GGUF_REPO, f"{GGUF_REPO}/unsloth.Q4_K_M.gguf", "llamacpp", "unsloth.Q4_K_M.gguf", "also here: Q8_0, F16"),
    (f"{GGUF_REPO}:Q8_0", f"{GGUF_REPO}/unsloth.Q8_0.gguf", "llamacpp", "unsloth.Q8_0.gguf", None),
    (f"hf.co/{GGUF_REPO}:q8_0", f"{GGUF_REPO}/unsloth.Q8_0.gguf", "llamacpp", "unsloth.Q8_0.gguf", None),
    (f"{GGUF_REPO}/unsloth.F16.gguf", f"{GGUF_REPO}/unsloth.F16.gguf", "llamacpp", "unsloth.F16.gguf", None),
    (SEED_MODELS[0], f"{SEED_MODELS[0]}/unsloth.F16.gguf", "llamacpp", "unsloth.F16.gguf", None),
    (SEED_MODELS[1].lower(), f"{SEED_MODELS[1]}/unsloth.F16.gguf", "llamacpp", "unsloth.F16.gguf", None),
    (MERGED_REPO, MERGED_REPO, "transformers", None, None),
    (ADAPTER_REPO, f"{TWIN_BASE}+{ADAPTER_REPO}", "transformers", None, f"its full-precision twin {TWIN_BASE}"),
    ("acme/lora-on-merged", f"{MERGED_REPO}+acme/lora-on-merged", "transformers", None,
     f"its adapter_config.json names the base {MERGED_REPO}"),
    (BNB_BASE, TWIN_BASE, "transformers", None, f"{BNB_BASE} (this model) is a bitsandbytes 4-bit model"),
    (f"{MERGED_REPO}+{ADAPTER_REPO}", f"{MERGED_REPO}+{ADAPTER_REPO}", "transformers", None, None),  # explicit wins
    (f"{GGUF_REPO}:F16+{GGUF_LORA_REPO}", f"{GGUF_REPO}/unsloth.F16.gguf+{GGUF_LORA_REPO}/smollm2-lora.gguf",
     "llamacpp", "unsloth.F16.gguf", None),
])
def test_each_kind_of_repo_resolves_and_records_its_choice(hub_cache, typed, text, backend, base_file, notice):
    spec = parse_model_spec(typed)
    assert (spec.text, spec.backend) == (text, backend)
    record = spec.hub_record()["hub"]
    base_repo = spec.base_hub.repo_id if spec.base_hub else None
    if base_repo:
        assert record["base"]["revision"] == commit_of(hub_cache, base_repo)
        assert record["base"].get("file") == base_file
    if notice:
        assert any(notice in n for n in spec.notices), spec.notices
    else:
        assert not spec.notices, spec.notices
    assert parse_model_spec(spec.text).text == spec.text  # the canonical text names the same model again


@pytest.mark.parametrize("typed, says", [
    (f"{GGUF_REPO}:Q3_K_S", "quantizations found: F16, Q4_K_M, Q8_0"),
    (f"{GGUF_REPO}/unsloth.Q2_K.gguf", "GGUF files: unsloth.F16.gguf, unsloth.Q4_K_M.gguf, unsloth.Q8_0.gguf"),
    ("nobody/not-cached:Q4_K_M", "nobody/not-cached is not in the local Hugging Face cache and offline mode"),
    (f"{ADAPTER_REPO}+{ADAPTER_REPO}", f"{ADAPTER_REPO} is a LoRA adapter, not a base model"),
    (GGUF_LORA_REPO, f"holds only GGUF LoRA adapters (smollm2-lora.gguf): name it as BASE+{GGUF_LORA_REPO}"),
    (f"{MERGED_REPO}+{MERGED_REPO}", f"{MERGED_REPO} is not a PEFT LoRA adapter"),
    (f"smollm2-135m-gguf+{GGUF_REPO}", "holds several GGUF files"),
    ("acme/lora-on-a-base-not-here", "adapter acme/lora-on-a-base-not-here wants the base '/content/outputs/base'"),
])
def test_what_cannot_be_had_is_named_with_the_fix(hub_cache, typed, says):
    with pytest.raises(ModelSpecError) as raised:
        parse_model_spec(typed)
    assert says in str(raised.value)


def test_an_adapter_whose_base_is_not_here_says_which_base_it_wants(hub_cache):
    from models.errors import ModelLoadError

    with pytest.raises(ModelLoadError) as raised:
        load_model("acme/lora-on-an-uncached-base")
    assert "could not load hub model 'meta-llama/Llama-3.2-3B-Instruct' (acme/lora-on-an-uncached-base is a LoRA " \
           "adapter; its adapter_config.json names the base meta-llama/Llama-3.2-3B-Instruct)" in str(raised.value)


def test_the_pickers_offer_cached_hub_models_and_their_quantizations(hub_cache):
    offered = known_model_specs()
    for spec in (GGUF_REPO, f"{GGUF_REPO}:Q8_0", f"{GGUF_REPO}:F16", *SEED_MODELS, MERGED_REPO, ADAPTER_REPO):
        assert spec in offered
    assert GGUF_LORA_REPO not in offered  # a LoRA alone is no model


def test_a_4bit_base_stays_where_bitsandbytes_can_run(hub_cache, monkeypatch):
    """A CUDA machine with bitsandbytes cannot exist here; the check is replaced by its answer there."""
    monkeypatch.setattr("models.hub_resolve.bitsandbytes_runnable", lambda: True)
    spec = parse_model_spec(ADAPTER_REPO)
    assert spec.text == f"{BNB_BASE}+{ADAPTER_REPO}" and not any("bitsandbytes" in n for n in spec.notices)


def test_gguf_repos_load_on_llama_cpp_with_the_chosen_file(hub_cache):
    q8 = load_model(f"{GGUF_REPO}:Q8_0")
    described = q8.describe()
    assert described["hub"]["base"]["file"] == "unsloth.Q8_0.gguf"
    assert os.path.realpath(q8.llm.model_path).endswith("unsloth.Q8_0.gguf")
    assert q8.complete(ASK, GREEDY).text.strip()
    base = load_model(f"{GGUF_REPO}:F16").complete(ASK, GREEDY).text
    with_lora = load_model(f"{GGUF_REPO}:F16+{GGUF_LORA_REPO}").complete(ASK, GREEDY).text
    assert base.strip() and with_lora != base  # the hub's GGUF LoRA was applied


def test_an_adapter_repo_on_a_4bit_base_loads_on_the_twin_here(hub_cache):
    base = load_model(TWIN_BASE)
    adapted = load_model(ADAPTER_REPO)
    assert adapted.spec.text == f"{TWIN_BASE}+{ADAPTER_REPO}"
    assert any("bitsandbytes" in n for n in adapted.describe()["notices"])
    assert adapted.describe()["hub"]["adapter"]["revision"] == commit_of(hub_cache, ADAPTER_REPO)
    plain = base.complete(ASK, GREEDY).text
    assert plain.strip() and adapted.complete(ASK, GREEDY).text != plain  # the adapter's weights are in use
    merged = load_model(MERGED_REPO)
    assert merged.describe()["hub"]["base"]["revision"] == commit_of(hub_cache, MERGED_REPO)
    assert merged.complete(ASK, GREEDY).text == plain  # the same weights under another repo give the same answer


def test_the_seed_space_pair_compares_by_name_offline(hub_replica, tmp_path):
    """The README's example, `forestav/LoRA-2000` against `KolumbusLindh/LoRA-6150`, through the CLI in a process
    of its own whose environment names the replica: HF_HUB_CACHE and HF_HUB_OFFLINE=1, as a user would set them."""
    env = {**os.environ, "HF_HUB_CACHE": str(hub_replica), "HF_HUB_OFFLINE": "1"}
    result = judge_cli("--model-a", SEED_MODELS[0], "--model-b", SEED_MODELS[1], "--judge", "smollm2-135m-gguf",
                       "--prompt", "Name three fruits.", "--max-new-tokens", "16", out=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = json.loads((next(tmp_path.glob("*/run.json"))).read_text())
    models = json.dumps(manifest)
    for repo in SEED_MODELS:
        assert f"{repo}/unsloth.F16.gguf" in models
        assert commit_of(hub_replica, repo) in models


def test_a_damaged_gguf_from_the_hub_is_refused_before_llama_cpp_opens_it(hub_cache):
    """The GGUF check that guards native code runs on the downloaded file: a truncated upload is a message, and this
    process (which llama.cpp would have taken down) goes on."""
    from hub_replica import add_repo

    from models.errors import ModelLoadError

    whole = next(hub_cache.glob("models--acme--SmolLM2-135M-Instruct-GGUF/snapshots/*/unsloth.Q8_0.gguf"))
    add_repo(hub_cache, "acme/broken-GGUF", {"model.Q4_K_M.gguf": whole.read_bytes()[:4096]})  # a cut download
    with pytest.raises(ModelLoadError) as raised:
        load_model("acme/broken-GGUF")
    assert "model.Q4_K_M.gguf is not a usable GGUF file" in str(raised.value)


def test_what_resolution_chose_is_told_with_the_record(hub_cache, tmp_path):
    """A GGUF repo named alone: the record's warnings say which file was picked and what else is there, and run.json
    names the file and the commit."""
    from runs.config import CompareConfig
    from runs.pipeline import run_compare
    from runs.prompt_sets import PromptItem

    config = CompareConfig(model_a=GGUF_REPO, model_b=f"{GGUF_REPO}:Q8_0",
                           judge="scripted:Relevance: 4\\nCoherence: 3\\nCompleteness: 4\\nReasons: fine",
                           sampling=GREEDY, preset=None, out_dir=str(tmp_path))
    records = [u.record for u in run_compare(config, [PromptItem(id="q1", prompt="Name three fruits.")])
               if u.stage == "record"]
    assert [w for w in records[0]["warnings"] if w.startswith("model A: ")] == \
        [f"model A: {GGUF_REPO}: picked unsloth.Q4_K_M.gguf (Q4_K_M, llama.cpp's default); also here: Q8_0, F16. "
         f"Name one as {GGUF_REPO}:QUANT or {GGUF_REPO}/FILE"]
    manifest = json.loads(next(tmp_path.glob("*/run.json")).read_text())
    assert manifest["models"]["model_b"]["hub"]["base"] == {
        "repo": GGUF_REPO, "kind": "gguf", "revision": commit_of(hub_cache, GGUF_REPO), "listed_from": "cache",
        "file": "unsloth.Q8_0.gguf"}
