"""A scoring judge: a linear reward head on a frozen base model's features, trained on preference pairs
(finetune/head_training.py fits it; models/backends/head.py serves it as a judge).

Features of an answer: the base model's last hidden layer for the chat-templated (prompt, answer), averaged over the
answer's tokens, and at its last token. A head per criterion scores an answer w . features; it is fit as
Bradley-Terry (logistic regression on feature differences, no intercept), so P(A better) = sigmoid(s_A - s_B) and
swapping the answers flips the verdict exactly: no position preference is possible by construction.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HEAD_FILE, META_FILE = "head.npz", "meta.json"


def answer_features(backend, prompt: str, answers: list[str], batch_size: int = 8) -> np.ndarray:
    """(len(answers), 2 x hidden) features of each answer to `prompt` from a transformers backend (see the module
    docstring); one forward pass per batch, right-padded."""
    import torch

    tokenizer, model = backend.tokenizer, backend.model
    prompt_length = backend.encode_chat([{"role": "user", "content": prompt}])["input_ids"].shape[1]
    rows = []
    for start in range(0, len(answers), batch_size):
        encoded = [backend.encode_chat([{"role": "user", "content": prompt}, {"role": "assistant", "content": a}])
                   ["input_ids"][0] for a in answers[start:start + batch_size]]
        width = max(len(ids) for ids in encoded)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        ids = torch.full((len(encoded), width), pad, dtype=torch.long)
        mask = torch.zeros((len(encoded), width), dtype=torch.long)
        for row, sequence in enumerate(encoded):
            ids[row, : len(sequence)], mask[row, : len(sequence)] = sequence, 1
        with torch.inference_mode():
            hidden = model(input_ids=ids.to(backend.device), attention_mask=mask.to(backend.device),
                           output_hidden_states=True).hidden_states[-1].cpu()
        for row, sequence in enumerate(encoded):
            answer_part = hidden[row, min(prompt_length, len(sequence) - 1): len(sequence)]
            rows.append(torch.cat([answer_part.mean(0), hidden[row, len(sequence) - 1]]).float().numpy())
    return np.stack(rows)


class FeatureCache:
    """Features on disk by (base, prompt, answer), so measuring again or training more heads costs nothing twice."""

    def __init__(self, folder: Path, base: str):
        self.folder, self.base = Path(folder), base
        self.folder.mkdir(parents=True, exist_ok=True)

    def _path(self, prompt: str, answer: str) -> Path:
        key = hashlib.sha256(json.dumps([self.base, prompt, answer]).encode("utf-8")).hexdigest()
        return self.folder / f"{key}.npy"

    def features(self, backend, prompt: str, answers: list[str]) -> np.ndarray:
        missing = [a for a in dict.fromkeys(answers) if not self._path(prompt, a).is_file()]
        if missing:
            for answer, row in zip(missing, answer_features(backend, prompt, missing)):
                np.save(self._path(prompt, answer), row)
        return np.stack([np.load(self._path(prompt, a)) for a in answers])


@dataclass
class RewardHead:
    """Per-criterion weights over the features, and the scale a score is mapped onto (1-4 by default)."""

    weights: dict[str, np.ndarray]  # criterion -> (features,) weights
    scale: tuple[int, int] = (1, 4)
    meta: dict = field(default_factory=dict)  # base model, training data, recipe, measured figures

    def raw_scores(self, features: np.ndarray) -> dict[str, np.ndarray]:
        return {criterion: features @ w for criterion, w in self.weights.items()}

    def scores(self, features: np.ndarray) -> dict[str, np.ndarray]:
        """Each criterion's score on the scale: low + (high - low) * sigmoid(raw)."""
        low, high = self.scale
        return {c: low + (high - low) / (1 + np.exp(-raw)) for c, raw in self.raw_scores(features).items()}

    def save(self, folder: Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / HEAD_FILE, **self.weights)
        (folder / META_FILE).write_text(json.dumps({**self.meta, "kind": "reward_head", "scale": list(self.scale),
                                                    "criteria": list(self.weights)}, indent=2), encoding="utf-8")
        return folder

    @classmethod
    def load(cls, folder: Path) -> RewardHead:
        folder = Path(folder)
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        with np.load(folder / HEAD_FILE) as stored:
            weights = {c: stored[c] for c in meta["criteria"]}
        return cls(weights, tuple(meta["scale"]), meta)
