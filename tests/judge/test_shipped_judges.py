"""The judges the project ships (adapters/shipped/): each loads by its name alone, is offered in every judge picker,
carries its data card, and beats the untrained embedded judge on a small check set the project wrote itself
(prompts/validation/), measured with the validation harness exactly as `python -m judge validate` measures."""
import json
from pathlib import Path

import pytest

from lab.validation import ValidationConfig, run_validation
from models import known_model_specs, load_model, parse_model_spec
from models.spec import shipped_judges

pytestmark = pytest.mark.model
BASELINE = "smollm2-135m-gguf"


def some_rows(tmp_path, data: str, keep) -> str:
    """The rows of `data` whose index `keep` takes, as a file: the untrained baseline reads each at 1 thread (~2 s a
    call), and the whole sets are measured by the recipes (adapters/shipped/*/DATA_CARD.md)."""
    rows = Path(data).read_text(encoding="utf-8").splitlines()
    kept = tmp_path / f"some-{Path(data).name}"
    kept.write_text("\n".join(row for i, row in enumerate(rows) if keep(i)) + "\n", encoding="utf-8")
    return str(kept)


def metrics(tmp_path, data: str, judges: list[str], mode: str, **extra) -> dict:
    config = ValidationConfig(data=data, judges=judges, mode=mode, out_dir=str(tmp_path), **extra)
    return {u.judge: u.metrics for u in run_validation(config) if u.stage == "judge_done"}


# Both read their features on torch, with transformers' features (models/torch_llama.py; llama.cpp reads the same
# features, but measured slower for the default judge: benchmarks/judge_reading.py).
@pytest.mark.parametrize("name, base, engine", [("smollm2-135m-judge", "smollm2-135m", "torch"),
                                                ("toxicity", "smollm2-135m", "torch")])
def test_a_shipped_judge_is_named_offered_and_carries_its_data_card(name, base, engine):
    from models.registry import unload_all

    unload_all()  # the base not loaded as a model of its own (it would be read from there)
    assert name in shipped_judges() and name in known_model_specs()
    spec = parse_model_spec(name)
    assert spec.text == name and spec.backend == "head"  # manifests record the name, the same on every clone
    folder = shipped_judges()[name]
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["measured"] and meta["base"] == base
    card = (folder / "DATA_CARD.md").read_text()
    assert "licen" in card.lower() and "Recipe" in card
    described = load_model(name).describe()
    assert described["base"] == base and described["engine"] == engine


def test_the_toxicity_judge_beats_the_untrained_model_on_the_shipped_examples(tmp_path):
    every_third = some_rows(tmp_path, "prompts/validation/toxicity_examples.jsonl", lambda i: i % 3 == 0)  # 6 + 6
    found = metrics(tmp_path, every_third, [BASELINE, "toxicity"], "label", template="toxicity")
    assert found["toxicity"]["unparsed_share"] == 0
    assert found["toxicity"]["accuracy"] > found[BASELINE]["accuracy"]
    assert found["toxicity"]["per_class"]["toxic"]["f1"] > found[BASELINE]["per_class"]["toxic"]["f1"]


def test_the_default_judge_beats_the_untrained_model_on_the_shipped_pairs(tmp_path):
    half = some_rows(tmp_path, "prompts/validation/good_vs_broken_pairs.jsonl", lambda i: i % 4 < 2)  # 3 A, 3 B
    found = metrics(tmp_path, half, [BASELINE, "smollm2-135m-judge"], "pairwise")
    judge = found["smollm2-135m-judge"]
    assert judge["agreement"] > found[BASELINE]["agreement"]
    assert judge["position_consistency"] == 1.0  # scored in both orders: the order never changes the verdict


def test_the_toxicity_judge_refuses_a_rubric_with_the_reason():
    from judge.judging import judge_single
    from judge.templates import default_template
    from models import DEFAULT_JUDGE_SETTINGS

    verdict = judge_single(load_model("toxicity"), default_template("single"), "q", "a", DEFAULT_JUDGE_SETTINGS)
    assert verdict.status == "unparsed" and "is a label judge (toxic, non_toxic)" in verdict.call.error


def test_the_toxicity_judge_reads_negation_counter_speech_and_mentions_of_groups(tmp_path):
    """The functional check set (never trained on: no frame shared with the recipe's training frames): the judge
    trained on tweets alone called most non-toxic cases toxic (macro F1 0.55, non-toxic recall 0.30)."""
    rows = Path("prompts/validation/toxicity_functional.jsonl").read_text().splitlines()
    every_third = some_rows(tmp_path, "prompts/validation/toxicity_functional.jsonl", lambda i: i % 3 == 0)
    found = metrics(tmp_path, every_third, ["toxicity"], "label", template="toxicity")["toxicity"]
    assert found["n"] == len(rows[::3])
    assert found["unparsed_share"] == 0
    assert found["f1_macro"] >= 0.75 and found["per_class"]["non_toxic"]["recall"] >= 0.75
