"""Why a generation ended, from every backend with the real embedded model: "length" when max_new_tokens cut it
off, "stop" when the model ended its reply; and through a run, the cut-off answers counted in summary.json.
Generations are greedy and short, on one thread as in tests/models/test_models_real.py."""
from __future__ import annotations

import json

import pytest

from models import SamplingSettings, load_model
from models.registry import unload_all
from runs.config import CompareConfig
from runs.pipeline import run_compare
from runs.prompt_sets import PromptItem

pytestmark = [pytest.mark.model, pytest.mark.usefixtures("one_thread_models")]

LONG = [{"role": "user", "content": "Explain in detail how a bicycle works."}]
SHORT = [{"role": "user", "content": "What is 2+2? Reply with the number only."}]
TINY = SamplingSettings(temperature=0.0, min_p=0.0, max_new_tokens=4)
ROOMY = SamplingSettings(temperature=0.0, min_p=0.0, max_new_tokens=48)


@pytest.mark.parametrize("which", ["base", "gguf"])
def test_single_stream_says_length_when_cut_off_and_stop_when_finished(which, request):
    backend = request.getfixturevalue(which)
    cut = backend.complete(LONG, TINY)
    assert cut.finish_reason == "length" and cut.n_tokens == 4, (which, cut)
    assert cut.to_dict()["finish_reason"] == "length"
    done = backend.complete(SHORT, ROOMY)
    assert done.finish_reason == "stop" and done.n_tokens < 48, (which, done)


@pytest.mark.parametrize("which", ["base", "gguf"])
def test_batched_generation_says_it_per_reply(which, request):
    backend = request.getfixturevalue(which)
    cut, done = backend.generate_batch([LONG, SHORT], ROOMY.with_(max_new_tokens=12))
    assert (cut.finish_reason, cut.n_tokens) == ("length", 12), (which, cut)
    assert done.finish_reason == "stop" and done.n_tokens < 12, (which, done)


def test_a_served_model_passes_on_the_servers_finish_reason(llama_server):
    from servers import LLAMA_ALIAS

    served = load_model(f"openai:{LLAMA_ALIAS}@{llama_server}")
    assert served.complete(LONG, TINY).finish_reason == "length"  # streamed
    assert served.score(LONG, TINY).finish_reason == "length"  # one whole reply
    assert served.complete(SHORT, ROOMY).finish_reason == "stop"


def test_the_scripted_backend_says_length_when_its_reply_is_cut():
    scripted = load_model("scripted:one two three four five")
    assert scripted.complete(LONG, TINY).finish_reason == "length"
    assert scripted.complete(LONG, ROOMY).finish_reason == "stop"


@pytest.mark.parametrize("n_prompts", [1, 2], ids=["streamed", "batched"])
def test_a_run_counts_the_cut_off_answers_in_its_summary(n_prompts, tmp_path):
    """One prompt streams its answers, a set is answered in batches: both paths record the finish reasons."""
    unload_all()
    config = CompareConfig(model_a="smollm2-135m", model_b="smollm2-135m-gguf", out_dir=str(tmp_path),
                           judge="scripted:Relevance: 3\\nCoherence: 3\\nCompleteness: 2\\nReasons: unfinished")
    config.sampling = config.sampling.with_(max_new_tokens=4)
    items = [PromptItem(id=f"q{i}", prompt=LONG[0]["content"]) for i in range(n_prompts)]
    updates = list(run_compare(config, items))
    records = [u.record for u in updates if u.stage == "record"]
    assert all(r["answers"][side]["finish_reason"] == "length" for r in records for side in "AB"), records
    summary = json.loads((updates[-1].run_dir / "summary.json").read_text())
    assert summary["cut_off"] == {"A": n_prompts, "B": n_prompts} and summary["max_new_tokens"] == [4]
