"""A reward model as a judge (models/backends/reward_model.py): the verdict and P(A better) from its raw rewards, and
the one score the views show for it.

A reward model is trained as a Bradley-Terry model, so P(A better) = sigmoid(r_A - r_B), and the verdict is the higher
reward: a tie only where the rewards are equal, or where P(A better) falls inside the band of no difference
(analysis/margins.py). Its reward has no scale of its own (Skywork-Reward-V2's run from about -30 to +30), so the
score shown is one criterion, `preference`, on the template's scale: low + (high - low) * sigmoid(r). The raw reward
is kept in the record beside it, and the mapping is part of the rubric (judge/rubric.py), which every view that shows
the score describes. It never becomes the template's criteria: a reward model scored none of them.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from judge.rubric import Rubric

PREFERENCE = "preference"  # the one criterion a reward model's score stands for (models/backends/reward_model.py)


def is_reward_model(judge) -> bool:
    """Whether a judge backend gives raw rewards (declared in its capabilities), not criterion scores on a scale."""
    return bool(getattr(judge.capabilities, "reward_model", False))


def sigmoid(x: float) -> float:
    """1 / (1 + e^-x), without overflow for rewards far apart."""
    if x >= 0:
        return 1 / (1 + math.exp(-x))
    z = math.exp(x)
    return z / (1 + z)


def reward_p_better(reward_a: float, reward_b: float) -> float:
    """P(A better) of a Bradley-Terry reward model."""
    return sigmoid(reward_a - reward_b)


def reward_winner(reward_a: float, reward_b: float) -> str:
    """The answer with the higher raw reward; a tie only when they are equal (the band may make more ties later)."""
    return "A" if reward_a > reward_b else "B" if reward_b > reward_a else "tie"


def mapped_score(reward: float, scale: Sequence[float]) -> float:
    """The reward on the scale: low + (high - low) * sigmoid(r). Rewards far apart can map to the same rounded score;
    the verdict never reads it (reward_winner reads the raw rewards)."""
    low, high = scale
    return round(low + (high - low) * sigmoid(reward), 4)


def mapping_formula(scale: Sequence[float]) -> str:
    """'preference = 1 + 3·sigmoid(r)' for the scale 1-4."""
    low, high = scale
    return f"{PREFERENCE} = {low:g} + {high - low:g}·sigmoid(r)"


def mapping_words(scale: Sequence[float]) -> str:
    """The mapping as the rubric states it: the formula, what r is, and what the verdict reads."""
    return (f"{mapping_formula(scale)}, r the reward model's raw reward (kept in the record); the verdict and "
            "P(A better) = sigmoid(r_A − r_B) come from the raw rewards")


def reward_scores(judge, scale: Sequence[float], prompt: str, answers: list[str]
                  ) -> tuple[list[dict | None], list[float] | None, str | None]:
    """({"preference": mapped reward} per answer, the raw rewards, None), or Nones and the error where a reward is not
    a number (a model that overflowed in half precision)."""
    rewards = judge.rewards(prompt, answers)
    if not all(math.isfinite(r) for r in rewards):
        return [None] * len(answers), None, f"{judge.spec.text} gave a reward that is not a number: {rewards}"
    return [{PREFERENCE: mapped_score(r, scale)} for r in rewards], rewards, None


def judged_rubric(rubric: Rubric, judges: Sequence) -> Rubric:
    """The rubric a run's records are judged on: the template's, unless a reward model is among the judges. A reward
    model alone scores `preference` only; on a panel beside judges that score the template's criteria, `preference`
    comes after them (each criterion is the mean of the judges that scored it: judge/panel.py). The mapping is
    stated either way."""
    rewarded = sum(is_reward_model(judge) for judge in judges)
    if not rewarded:
        return rubric
    criteria = (PREFERENCE,) if rewarded == len(judges) else tuple(dict.fromkeys((*rubric.criteria, PREFERENCE)))
    return Rubric(criteria, rubric.scale, mapping_words(rubric.scale))


def recorded_rewards(judgement: dict | None) -> tuple[float, float] | None:
    """(r_A, r_B) from a reward model's judgement as records keep it: a single-mode judgement's `reward` per side, a
    pairwise one's `rewards`; None for any other judge's (and for a panel's: each member's is in its own)."""
    judgement = judgement or {}
    pair = judgement.get("rewards")
    if isinstance(pair, dict):
        found = (pair.get("A"), pair.get("B"))
    else:
        found = tuple((judgement.get(side) or {}).get("reward") if isinstance(judgement.get(side), dict) else None
                      for side in ("A", "B"))
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in found):
        return float(found[0]), float(found[1])
    return None


def panel_rewards(judgement: dict | None) -> tuple[float, float] | None:
    """(r_A, r_B) of the one reward model on a panel (None with none or several: a mean of two models' rewards
    means nothing), else of a lone judge's judgement."""
    members = (judgement or {}).get("panel")
    if not isinstance(members, list):
        return recorded_rewards(judgement)
    found = [r for m in members if isinstance(m, dict) and (r := recorded_rewards(m.get("judgement")))]
    return found[0] if len(found) == 1 else None
