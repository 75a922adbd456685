"""A reward model as a judge: a transformers sequence classifier with one output (Skywork-Reward-V2, the
ArmoRM/URM family, any `AutoModelForSequenceClassification` checkpoint with `num_labels` 1) that reads the
conversation (prompt, answer) through its chat template, as such models' cards say, and gives one scalar reward.

It scores each answer alone, so a pairwise verdict cannot depend on the order the answers are shown in; reward models
are trained as Bradley-Terry models, so P(A better) = sigmoid(r_A - r_B). Its one number is an overall preference,
shown as the one criterion `preference` (judge/rewards.py maps it onto a template's scale and says how), never as
relevance, coherence and completeness it did not score. Spec: `reward:org/repo` or `reward:FOLDER` (models/spec.py).
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from models.backend import Backend, Capabilities, Message
from models.errors import ModelLoadError
from models.settings import SamplingSettings
from models.spec import ModelSpec
from models.threads import generation_running

PREFERENCE = "preference"  # the one criterion a reward model scores


@dataclass
class RewardModelBackend(Backend):
    model: Any = None
    tokenizer: Any = None
    device: str = "cpu"
    name: str = "reward"

    capabilities: ClassVar[Capabilities] = Capabilities(streaming=False, answer_scores=True, reward_model=True)
    criteria: ClassVar[tuple[str, ...]] = (PREFERENCE,)
    labels: ClassVar[tuple[str, ...]] = ()

    def stream(self, messages: list[Message], settings: SamplingSettings) -> Iterator[str]:
        raise ModelLoadError(f"{self.spec.text} is a reward model: it scores answers and cannot write them; use it "
                             "as a judge, and a generative model as Model A or B")

    @property
    def computes_on_this_cpu(self) -> bool:
        return self.device == "cpu"

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def conversation_ids(self, prompt: str, answer: str) -> list[int]:
        """The (prompt, answer) conversation as the model's chat template writes it, without a second BOS (the
        template writes its own: Skywork-Reward-V2's card strips the tokenizer's)."""
        text = self.tokenizer.apply_chat_template([{"role": "user", "content": prompt},
                                                   {"role": "assistant", "content": answer}], tokenize=False)
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def rewards(self, prompt: str, answers: list[str]) -> list[float]:
        """Each answer's reward. One answer a pass: a batch would need padding, and where the pad token is the
        end-of-turn token the classifier would read its score at the wrong place."""
        import torch

        found = []
        with self.lock, generation_running() as threads:
            if self.computes_on_this_cpu:
                torch.set_num_threads(threads)
            for answer in answers:
                ids = torch.tensor([self.conversation_ids(prompt, answer)], device=self.device)
                with torch.inference_mode():
                    found.append(float(self.model(input_ids=ids).logits[0, 0].float()))
        return found

    def answer_scores(self, prompt: str, answers: list[str]) -> list[dict[str, float]]:
        """{"preference": reward} per answer: the raw reward, on the model's own unbounded scale."""
        return [{PREFERENCE: round(r, 4)} for r in self.rewards(prompt, answers)]

    def describe(self) -> dict:
        revision = getattr(self.model.config, "_commit_hash", None) if self.spec.base_hub else None
        return {**super().describe(), "device": self.device, "dtype": str(self.model.dtype).replace("torch.", ""),
                "engine": "transformers", "kind": "reward model", "criteria": list(self.criteria),
                **({"revision": revision} if revision else {})}


def load_reward_backend(spec: ModelSpec) -> RewardModelBackend:
    import torch
    from safetensors import SafetensorError
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    from models.backends.hf import _check_hub_reachable_unless_cached, _explain_load_failure, hub_revision

    transformers_logging.disable_progress_bar()
    started = time.perf_counter()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    # float32 on CPU (no native bf16 here), bf16 on a GPU as the reward models' cards load them
    dtype = torch.float32 if device == "cpu" else (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)
    revision = hub_revision(spec.base_hub)
    try:
        if spec.base_hub is not None:
            _check_hub_reachable_unless_cached(spec.base)
        tokenizer = AutoTokenizer.from_pretrained(spec.base, **revision)
        model = AutoModelForSequenceClassification.from_pretrained(spec.base, dtype=dtype, num_labels=1, **revision)
    except OSError as exc:
        raise ModelLoadError(_explain_load_failure(_as_hub(spec), exc)) from exc
    except (ValueError, RuntimeError, KeyError, SafetensorError) as exc:
        raise ModelLoadError(f"could not load reward model {spec.base!r} ({type(exc).__name__}: {exc}): it must be a "
                             "*ForSequenceClassification checkpoint with one output") from exc
    architectures = getattr(model.config, "architectures", None) or []
    if not any(a.endswith("ForSequenceClassification") for a in architectures):
        raise ModelLoadError(f"{spec.base!r} is a {', '.join(architectures) or 'model'} checkpoint, not a reward "
                             "model: its score head would be random. Use a *ForSequenceClassification checkpoint "
                             "(e.g. reward:Skywork/Skywork-Reward-V2-Qwen3-0.6B), or the model as Model A / B")
    if not getattr(tokenizer, "chat_template", None):
        raise ModelLoadError(f"{spec.base!r} has no chat template: a reward model reads the conversation as its "
                             "template writes it; add the template its card names to tokenizer_config.json")
    model.to(device).eval()
    return RewardModelBackend(spec=spec, model=model, tokenizer=tokenizer, device=device,
                              load_seconds=time.perf_counter() - started)


def _as_hub(spec: ModelSpec) -> ModelSpec:
    """The spec as the transformers loader's messages read it (a hub model where it came from the hub)."""
    from dataclasses import replace

    return replace(spec, base_kind="hub" if spec.base_hub is not None else "local")
