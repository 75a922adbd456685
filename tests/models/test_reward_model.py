"""Reward models as judges (models/backends/reward_model.py), offline: a reward model the tests make from the
embedded model (tests/reward_models.py: its base weights under a fresh seeded score head) loaded from its folder and,
by hub id, from a local hub cache with HF_HUB_OFFLINE=1; nothing is replaced but the network."""
import math

import pytest
from reward_models import REWARD_REPO, add_reward_repo, build_reward_model

from models import ModelLoadError, load_model, parse_model_spec
from models.errors import ModelSpecError
from models.registry import declared_capabilities

pytestmark = pytest.mark.model
PROMPT = "Name three fruits."
ANSWERS = ["Apples, pears and plums.", "The weather is nice today.", "Apples, pears and plums."]


@pytest.fixture(scope="module")
def reward_folder(tmp_path_factory, one_thread_models):
    return build_reward_model(tmp_path_factory.mktemp("reward") / "smollm2-135m-reward")


def test_a_reward_folder_loads_and_scores_each_answer_alone(reward_folder):
    spec = parse_model_spec(f"reward:{reward_folder}")
    assert spec.backend == "reward" and spec.text == f"reward:{reward_folder.resolve()}"
    capabilities = declared_capabilities(spec)
    assert capabilities.answer_scores and not capabilities.streaming
    judge = load_model(spec)
    scores = judge.answer_scores(PROMPT, ANSWERS)
    assert [list(s) for s in scores] == [["preference"]] * 3  # one number: never three invented criteria
    assert scores[0] == scores[2] and scores[0] != scores[1]  # the same conversation, the same reward
    alone = judge.answer_scores(PROMPT, ANSWERS[1:2])[0]
    assert math.isclose(alone["preference"], scores[1]["preference"], abs_tol=1e-3)  # no batch effects
    other_prompt = judge.answer_scores("Say something about the weather.", ANSWERS[1:2])[0]
    assert other_prompt != alone  # the prompt is read, not the answer only
    described = judge.describe()
    assert described["kind"] == "reward model" and described["dtype"] == "float32"


def test_the_conversation_is_read_through_the_chat_template_with_one_bos(reward_folder):
    judge = load_model(f"reward:{reward_folder}")
    ids = judge.conversation_ids(PROMPT, ANSWERS[0])
    text = judge.tokenizer.decode(ids)
    assert "<|im_start|>user\n" + PROMPT in text and "<|im_start|>assistant\n" + ANSWERS[0] in text
    # The template writes its own first token; the tokenizer must not add a BOS before it (SmolLM2's BOS is
    # <|im_start|>, so a doubled one would show as two in a row)
    assert ids[:2] != [ids[0], ids[0]]


def test_a_reward_model_refuses_to_write_answers(reward_folder):
    judge = load_model(f"reward:{reward_folder}")
    with pytest.raises(ModelLoadError, match="is a reward model: it scores answers and cannot write them"):
        next(judge.stream([{"role": "user", "content": PROMPT}], None))


def test_a_reward_model_loads_by_hub_id_from_the_local_cache(reward_folder, hub_cache):
    snapshot = add_reward_repo(hub_cache, reward_folder)
    spec = parse_model_spec(f"reward:{REWARD_REPO}")
    assert spec.text == f"reward:{REWARD_REPO}" and spec.base_hub.repo_id == REWARD_REPO
    assert spec.base_hub.revision == snapshot.name  # the commit the files were listed at
    by_hub = load_model(spec).answer_scores(PROMPT, ANSWERS[:2])
    by_folder = load_model(f"reward:{reward_folder}").answer_scores(PROMPT, ANSWERS[:2])
    assert by_hub == by_folder


def test_a_causal_lm_is_not_taken_for_a_reward_model(tmp_path):
    from models.embedded import EMBEDDED_MODELS, ensure_converted

    folder = ensure_converted(EMBEDDED_MODELS["smollm2-135m"])
    with pytest.raises(ModelLoadError, match="LlamaForCausalLM checkpoint, not a reward model: its score head would "
                                             "be random"):
        load_model(f"reward:{folder}")


@pytest.mark.parametrize("typed, said", [
    ("reward:", "give reward:FOLDER or reward:org/repo"),
    ("reward:smollm2-135m", "names no reward model"),
    ("reward:a+b", "with no adapter"),
])
def test_a_bad_reward_spec_says_what_to_give(typed, said):
    with pytest.raises(ModelSpecError, match=said):
        parse_model_spec(typed)


def test_a_folder_without_a_config_is_named(tmp_path):
    with pytest.raises(ModelSpecError, match="has no config.json, so it is not a transformers model"):
        parse_model_spec(f"reward:{tmp_path}")
