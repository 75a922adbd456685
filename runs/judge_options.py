"""Which judge settings do something for a chosen judge, read from its backend's declared capabilities
(models/registry.py declared_capabilities), so a page can switch off the others and say why; and the line that says
what the default Model A and B are."""
from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from basics import UserFacingError
from finetune.config import DEMO_STEPS
from judge.judging import PROBABILITIES
from models.embedded import DEFAULT_MODEL, EMBEDDED_MODELS
from models.registry import PROBED_BACKENDS, declared_capabilities
from models.spec import parse_model_spec
from runs.config import DEFAULT_JUDGE_METHOD, DEFAULT_MODEL_A, DEFAULT_MODEL_B, GENERATIVE_JUDGE, resolve_method


@dataclass(frozen=True)
class JudgeOptions:
    """What a judge's settings can change. The defaults (everything applies) stand for a judge not known yet."""

    scoring: bool = False  # scores each answer alone with a trained head: no template wording, method, temperature,
    # written reasons or pairwise reading apply to it
    reasons: bool = True  # "ask for reasons" applies: the probabilities method reads scores, then asks for them
    note: str = ""  # what is switched off and why, for the page

    @property
    def writes(self) -> bool:
        return not self.scoring


def judge_options(judge: str, method: str = DEFAULT_JUDGE_METHOD) -> JudgeOptions:
    """The settings that apply to `judge` with `method` (auto / parsed / probabilities). A spec that names nothing
    gets every setting: comparing says what is wrong with it."""
    try:
        spec = parse_model_spec(judge)
        capabilities = declared_capabilities(spec)
    except (UserFacingError, ValueError, OSError):
        return JudgeOptions()
    if capabilities.reward_model:
        return JudgeOptions(scoring=True, reasons=False, note=(
            f"**{judge}** is a reward model: it reads each answer alone through its chat template and gives one "
            "reward r. The verdict is the higher reward, P(A better) = sigmoid(r_A − r_B), and the score shown is one "
            "criterion, preference = low + (high − low)·sigmoid(r) on the template's scale, the raw reward beside "
            "it. The template's wording and criteria, the method, the temperature, reasons and pairwise judging do "
            f"nothing for it and are switched off. To use them, pick a writing judge such as `{GENERATIVE_JUDGE}`."))
    if capabilities.answer_scores:
        return JudgeOptions(scoring=True, reasons=False, note=(
            f"**{judge}** is a scoring judge: a trained head scores each answer alone, so the template's wording, "
            "the method, the temperature, reasons and pairwise judging do nothing for it and are switched off. "
            f"To use them, pick a writing judge such as `{GENERATIVE_JUDGE}`."))
    # resolve_method reads only the backend's capabilities: the declared ones decide as the loaded model's would.
    if method == "auto" and spec.backend in PROBED_BACKENDS:  # a served judge may return probabilities or not
        return JudgeOptions()
    if resolve_method(method, SimpleNamespace(capabilities=capabilities)) != PROBABILITIES:
        return JudgeOptions(reasons=False, note=(
            "*Ask the judge for reasons* is switched off: with the parsed method the judge writes its reasons in "
            "its reply anyway; the box is for the probabilities method, which reads the scores and then asks."))
    return JudgeOptions()


def pair_line(model_a: str, model_b: str, shared: bool = False) -> str:
    """One line for the top of the page: what Model A and Model B are by default, and how to compare fine-tunes."""
    if (model_a, model_b) == (DEFAULT_MODEL_A, DEFAULT_MODEL_B):
        name = EMBEDDED_MODELS[DEFAULT_MODEL].hub_id.split("/")[-1]
        how = "pick another pair in the lists" if shared else \
            "train the demo adapters (Training tab) or type two hub ids (org/name)"
        return (f"**A and B by default are one model**, {name} in float32 and in 4 bits: their answers often match. "
                f"To compare real fine-tunes, {how}.")
    if all(f"demo/step-{steps}" in spec for spec, steps in zip((model_a, model_b), DEMO_STEPS)):
        return (f"**A and B by default are two fine-tunes**: the demo adapters of the embedded model after "
                f"{DEMO_STEPS[0]} (A) and {DEMO_STEPS[1]} (B) training steps. Type any model spec or hub id to "
                "compare others.")
    return ""
