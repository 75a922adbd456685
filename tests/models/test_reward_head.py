"""The reward head (models/reward_head.py, fit by finetune/head_training.py): Bradley-Terry fitting, swap symmetry,
saving, and features from the real embedded model."""
import dataclasses

import numpy as np
import pytest
import torch

from finetune.head_training import fit_label_head, fit_pair_weights
from models.reward_head import SIGNALS, FeatureCache, LabelHead, RewardHead, answer_features, load_head


def test_fit_recovers_the_preferred_direction_and_is_swap_symmetric():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=6)
    x = rng.normal(size=(400, 6))
    y = rng.normal(size=(400, 6))
    better = np.where(((x - y) @ truth > 0)[:, None], x, y)
    worse = np.where(((x - y) @ truth > 0)[:, None], y, x)
    weights = fit_pair_weights(better, worse)
    assert np.corrcoef(weights, truth)[0, 1] > 0.9
    head = RewardHead({"overall": weights})
    a, b = head.scores(better)["overall"], head.scores(worse)["overall"]
    assert (a > b).mean() > 0.9  # held-in pairs mostly ranked right
    assert np.all((a > b) == ~(b >= a))  # swapping the answers flips every verdict: no position preference


def test_scores_lie_on_the_scale_and_a_head_survives_saving(tmp_path):
    head = RewardHead({"relevance": np.array([1.0, -2.0]), "coherence": np.array([0.5, 0.5])}, meta={"base": "x"})
    scores = head.scores(np.array([[100.0, 0.0], [0.0, 100.0], [0.0, 0.0]]))
    assert scores["relevance"] == pytest.approx([4.0, 1.0, 2.5])
    loaded = RewardHead.load(head.save(tmp_path / "head"))
    assert loaded.meta["base"] == "x" and loaded.meta["kind"] == "reward_head" and loaded.scale == (1, 4)
    assert all(np.array_equal(loaded.weights[c], head.weights[c]) for c in head.weights)


@pytest.mark.model
def test_features_of_the_embedded_model_tell_answers_apart_and_are_cached(tmp_path):
    from models import load_model

    backend = load_model("smollm2-135m")
    answers = ["Paris is the capital of France.", "Bananas are yellow.", "Paris is the capital of France."]
    feats = answer_features(backend, "What is the capital of France?", answers, batch_size=2)
    assert feats.shape == (3, 2 * backend.model.config.hidden_size + len(SIGNALS))
    assert np.allclose(feats[0], feats[2], atol=1e-4) and not np.allclose(feats[0], feats[1], atol=1e-2)
    alone = answer_features(backend, "What is the capital of France?", answers[1:2])  # padding changes nothing
    assert np.allclose(alone[0], feats[1], atol=1e-3)
    cache = FeatureCache(tmp_path, "smollm2-135m")
    first = cache.features(backend, "Q?", answers[:2])
    assert len(list(tmp_path.glob("*.npy"))) == 2 and np.array_equal(cache.features(backend, "Q?", answers[:2]), first)
    hidden_only = FeatureCache(tmp_path, "smollm2-135m", signals=False).features(backend, "Q?", answers[:2])
    assert hidden_only.shape == (2, 2 * backend.model.config.hidden_size)  # cached apart: another key
    assert np.allclose(hidden_only, first[:, : hidden_only.shape[1]], atol=1e-4)


@pytest.mark.model
def test_the_models_own_reading_tells_cut_off_and_off_topic_answers_apart():
    from models import load_model

    backend = load_model("smollm2-135m")
    prompt = "What is the capital of France? Explain briefly."
    whole = "The capital of France is Paris. It is the largest city in the country and sits on the river Seine."
    answers = [whole, " ".join(whole.split()[:9]), "Bananas are rich in potassium and grow in tropical climates."]
    signals = dict(zip(SIGNALS, answer_features(backend, prompt, answers)[:, -len(SIGNALS):].T))
    assert signals["end_logprob"][0] > signals["end_logprob"][1] + 5  # the model expects no end mid-sentence
    assert signals["mean_pmi"][0] > 0 > signals["mean_pmi"][2]  # the prompt makes the right answer likelier only
    assert signals["log_length"][0] > signals["log_length"][1]


def test_a_label_head_learns_classes_with_their_priors_and_survives_saving(tmp_path):
    rng = np.random.default_rng(1)
    toxic, calm = rng.normal(1.0, 1.0, size=(150, 4)), rng.normal(-1.0, 1.0, size=(50, 4))
    features = np.concatenate([toxic, calm])
    classes = ["toxic"] * 150 + ["non_toxic"] * 50
    head = fit_label_head(features, classes, ("toxic", "non_toxic"), "Is it toxic?")
    found = head.probabilities(features)
    assert np.allclose(found.sum(axis=1), 1.0)
    predicted = np.array(head.labels)[found.argmax(axis=1)]
    assert (predicted == np.array(classes)).mean() > 0.9
    assert head.probabilities(np.zeros((1, 4)))[0, 0] > 0.5  # no evidence: the likelier class (3 in 4 are toxic)
    loaded = load_head(head.save(tmp_path / "toxicity"))
    assert isinstance(loaded, LabelHead) and loaded.labels == ("toxic", "non_toxic") and loaded.prompt == "Is it toxic?"
    assert np.allclose(loaded.probabilities(features), found)
    with pytest.raises(ValueError, match="not among the labels"):
        fit_label_head(features, ["spam"] * 200, ("toxic", "non_toxic"), "p")


PROMPT = "Explain how to bake a chocolate cake without using eggs."
CAKE = ("To bake a chocolate cake without eggs, replace each egg with a quarter cup of applesauce or mashed banana. "
        "Mix flour, sugar, cocoa and baking soda, add oil, vinegar and water, and bake at 180C for 30 minutes. ")


@pytest.mark.model
@pytest.mark.parametrize("version", [2, 3])
def test_llamacpp_reads_the_features_transformers_reads(version):
    """The head's weights read either engine: the same float32 weights give the same features (float rounding apart),
    answers of very different lengths read together included (llama.cpp needs no padding)."""
    from models import load_model

    answers = [CAKE * 4, "Bananas are yellow. " * 10, "Paris."]
    on_torch = answer_features(load_model("smollm2-135m"), PROMPT, answers, version=version)
    on_llama = answer_features(load_model("smollm2-135m-f32-gguf"), PROMPT, answers, version=version)
    assert on_llama.shape == on_torch.shape
    assert np.abs(on_llama - on_torch).max() < 0.05
    assert np.abs(on_llama[:, -len(SIGNALS):] - on_torch[:, -len(SIGNALS):]).max() < 0.02


@pytest.mark.model
def test_llamacpp_reading_shares_the_prompt_without_changing_any_answer():
    from models import load_model
    from models.llamacpp_reading import llamacpp_token_passes
    from models.reward_head import chat_ids

    backend = load_model("smollm2-135m-f32-gguf")
    sequences = [chat_ids(backend, [{"role": "user", "content": PROMPT}, {"role": "assistant", "content": a}])
                 for a in (CAKE, CAKE * 2, "No idea.")]
    together = list(llamacpp_token_passes(backend, sequences))
    for sequence, (hidden, logprobs) in zip(sequences, together):
        (alone_hidden, alone_logprobs), = llamacpp_token_passes(backend, [sequence])
        assert hidden.shape == (len(sequence), alone_hidden.shape[1]) and logprobs.shape == (len(sequence),)
        # batched matrix products round differently: hidden values reach ~50, so 0.05 is a relative 1e-3
        assert np.abs(hidden - alone_hidden).max() < 0.05 and np.abs(logprobs - alone_logprobs).max() < 0.05
    assert together[0][1][1:].max() <= 0 and together[0][1][0] == 0  # log probabilities; the first token has none


@pytest.mark.model
def test_version_3_compares_only_the_first_tokens_with_and_without_the_prompt():
    """Version 3's mutual information reads the answer's first PMI_TOKENS tokens: a short answer gets version 2's
    features exactly, a long one differs in the two mutual-information signals only."""
    from models import load_model
    from models.reward_head import MODEL_SIGNALS, PMI_TOKENS, model_features

    backend = load_model("smollm2-135m-f32-gguf")
    short, long = "Use applesauce instead of eggs.", CAKE * 3
    assert backend.count_tokens(short) < PMI_TOKENS < backend.count_tokens(long)
    v2, v3 = (model_features(backend, PROMPT, [short, long], version=v) for v in (2, 3))
    assert np.allclose(v2[0], v3[0], atol=1e-4)
    signals = -len(MODEL_SIGNALS)
    changed = {name for i, name in enumerate(MODEL_SIGNALS) if abs(v2[1, signals + i] - v3[1, signals + i]) > 1e-4}
    assert changed == {"mean_pmi", "total_pmi"}
    assert np.allclose(v2[1, :signals], v3[1, :signals], atol=1e-4)


@pytest.mark.model
def test_an_int8_head_reads_a_quantised_copy_and_leaves_the_registry_s_model_in_float32(tmp_path):
    """A head fit on int8 features (meta "weights": "int8") reads them from its own quantised copy: the registry's
    model (perhaps Model A) keeps its float32 layers, the features keep the float32 reading's signs and order, and
    they are cached under their own key."""
    import torch

    from models import load_model
    from models.backends.head import load_head_backend
    from models.feature_readers import int8_reader
    from models.spec import HEAD_PREFIX, parse_model_spec

    base = load_model("smollm2-135m")
    quantised = int8_reader(base)
    assert isinstance(base.model.model.layers[0].mlp.down_proj, torch.nn.Linear)
    assert "quantized" in type(quantised.model.model.layers[0].mlp.down_proj).__module__
    answers = [CAKE, "Bananas are yellow.", CAKE[:60]]
    exact, rounded = (answer_features(b, PROMPT, answers) for b in (base, quantised))
    # Other features, not noise: the hidden layer follows float32's closely; the log probabilities move by up to a
    # nat on this 135M model (why such a head is fit on its own features, and why the shipped judge is not int8)
    assert rounded.shape == exact.shape and np.isfinite(rounded).all() and not np.allclose(rounded, exact, atol=0.1)
    assert np.corrcoef(exact[:, :-len(SIGNALS)].ravel(), rounded[:, :-len(SIGNALS)].ravel())[0, 1] > 0.9
    assert np.array_equal(rounded[:, -len(SIGNALS) + 4], exact[:, -len(SIGNALS) + 4])  # log length: token counts

    weights = {c: np.ones(exact.shape[1], dtype=np.float32) for c in ("relevance",)}
    RewardHead(weights, meta={"base": "smollm2-135m", "features": 3, "weights": "int8"}).save(tmp_path / "h8")
    judge = load_head_backend(parse_model_spec(HEAD_PREFIX + str(tmp_path / "h8")))
    assert judge.base is not base and judge.base.model is not base.model and judge.features.base.endswith(" int8")
    scores = judge.answer_scores(PROMPT, answers)
    assert len(scores) == 3 and all(1 <= s["relevance"] <= 4 for s in scores)
    assert isinstance(base.model.model.layers[0].mlp.down_proj, torch.nn.Linear)


@pytest.mark.model
def test_an_int8_head_on_a_llamacpp_base_is_refused_with_the_reason(tmp_path):
    from models import ModelLoadError
    from models.backends.head import load_head_backend
    from models.spec import HEAD_PREFIX, parse_model_spec

    RewardHead({"relevance": np.ones(4, dtype=np.float32)},
               meta={"base": "smollm2-135m-gguf", "weights": "int8"}).save(tmp_path / "h8")
    with pytest.raises(ModelLoadError, match="fit on int8 features: int8 reading needs a transformers base on the CPU"):
        load_head_backend(parse_model_spec(HEAD_PREFIX + str(tmp_path / "h8")))


class _CastEveryPass:
    """CPU autocast over the float32 model as it stands, its weights cast on every pass."""

    def __init__(self, model):
        self.model = model

    def __getattr__(self, name):
        return getattr(self.model, name)

    def __call__(self, *args, **kwargs):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return self.model(*args, **kwargs)


@pytest.mark.model
def test_a_bfloat16_head_reads_through_autocast_and_leaves_the_registry_s_model_as_it_was(tmp_path):
    """A head fit on bfloat16 features (meta "weights": "bfloat16") reads them under CPU autocast, the registry's
    float32 model left as it was, cached under their own key: close to float32's features but not theirs; an unknown weights
    name is refused with the names it may take."""
    from models import ModelLoadError, load_model
    from models.backends.head import load_head_backend
    from models.feature_readers import bfloat16_reader
    from models.spec import HEAD_PREFIX, parse_model_spec

    base = load_model("smollm2-135m")
    answers = [CAKE, "Bananas are yellow."]
    exact = answer_features(base, PROMPT, answers)
    rounded = answer_features(bfloat16_reader(base), PROMPT, answers)
    assert rounded.shape == exact.shape and np.isfinite(rounded).all() and not np.allclose(rounded, exact, atol=1e-3)
    assert np.corrcoef(exact[:, :-len(SIGNALS)].ravel(), rounded[:, :-len(SIGNALS)].ravel())[0, 1] > 0.99
    assert np.abs(rounded[:, -len(SIGNALS)] - exact[:, -len(SIGNALS)]).max() < 0.2  # mean log probability, in nats
    assert np.array_equal(answer_features(base, PROMPT, answers), exact)  # the registry's model still reads float32
    # Its linear weights cast once give what casting them on every pass gives, bit for bit, and the float32 model
    # keeps its own weights (its output layer still tied to its embeddings)
    every_pass = dataclasses.replace(base, model=_CastEveryPass(base.model), _probability_cache=([], None))
    assert np.array_equal(answer_features(every_pass, PROMPT, answers), rounded)
    assert base.model.lm_head.weight is base.model.model.embed_tokens.weight
    assert {p.dtype for p in base.model.parameters()} == {torch.float32}

    weights = {"relevance": np.ones(exact.shape[1], dtype=np.float32)}
    RewardHead(weights, meta={"base": "smollm2-135m", "features": 3, "weights": "bfloat16"}).save(tmp_path / "hb")
    judge = load_head_backend(parse_model_spec(HEAD_PREFIX + str(tmp_path / "hb")))
    assert judge.base.model is not base.model and judge.features.base.endswith(" bfloat16")
    assert all(1 <= s["relevance"] <= 4 for s in judge.answer_scores(PROMPT, answers))
    RewardHead(weights, meta={"base": "smollm2-135m", "weights": "fp8"}).save(tmp_path / "h8")
    with pytest.raises(ModelLoadError, match="fit on fp8 features: no reader for weights 'fp8'.*float32, int8, "
                                             "bfloat16"):
        load_head_backend(parse_model_spec(HEAD_PREFIX + str(tmp_path / "h8")))


@pytest.mark.model
def test_the_shipped_judge_reads_bfloat16_only_where_the_cpu_multiplies_it_and_says_which(monkeypatch):
    """The default judge was measured alike reading float32 and bfloat16 features (its meta's `reads_bfloat16`):
    it reads bfloat16 where the CPU has AMX (this project's machines: about 1.9x faster), float32 elsewhere or with
    $LLM_JUDGE_HEAD_BFLOAT16=0, and its description (kept in each run's manifest) names the reading."""
    from models.backends.head import load_head_backend
    from models.feature_readers import native_bfloat16
    from models.spec import parse_model_spec

    spec = parse_model_spec("smollm2-135m-judge")
    monkeypatch.delenv("LLM_JUDGE_HEAD_BFLOAT16", raising=False)
    here = load_head_backend(spec)
    assert here.reading == ("bfloat16" if native_bfloat16() else "float32") == here.describe()["reading"]
    monkeypatch.setenv("LLM_JUDGE_HEAD_BFLOAT16", "0")
    exact = load_head_backend(spec)
    assert exact.reading == "float32" and exact.features.base == "smollm2-135m"
    monkeypatch.setenv("LLM_JUDGE_HEAD_BFLOAT16", "1")
    rounded = load_head_backend(spec)
    assert rounded.reading == "bfloat16" and rounded.features.base == "smollm2-135m bfloat16"
    answers = [CAKE, "Bananas are yellow."]
    (a32, b32), (a16, b16) = (judge.answer_scores(PROMPT, answers) for judge in (exact, rounded))
    assert a32 != a16 and sum(a32.values()) > sum(b32.values()) and sum(a16.values()) > sum(b16.values())
