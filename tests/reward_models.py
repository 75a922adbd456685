"""A reward model made from the embedded model, as the tests need one offline: SmolLM2-135M's base weights under a
freshly initialised one-output score head (seeded), saved by save_pretrained as a LlamaForSequenceClassification
folder, and the same files laid into a local hub cache as `acme/smollm2-135m-reward` (tests/hub_replica.py's layout).
Its rewards are not meaningful preferences; what the tests check is the loading, the scoring and the arithmetic."""
from __future__ import annotations

from pathlib import Path

from hub_replica import add_repo

REWARD_REPO = "acme/smollm2-135m-reward"


def build_reward_model(folder: Path, seed: int = 0) -> Path:
    """The embedded model as a one-output sequence classifier in `folder` (built once: an existing folder is kept)."""
    if (folder / "config.json").is_file():
        return folder
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from models.embedded import EMBEDDED_MODELS, ensure_converted

    source = ensure_converted(EMBEDDED_MODELS["smollm2-135m"])
    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForSequenceClassification.from_pretrained(source, num_labels=1, dtype=torch.float32)
    model.config.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else \
        tokenizer.eos_token_id
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def add_reward_repo(cache: Path, folder: Path) -> Path:
    """`folder`'s files as the hub repo REWARD_REPO in the cache `cache` (weights linked, not copied)."""
    return add_repo(cache, REWARD_REPO, {p.name: p for p in folder.iterdir() if p.is_file()})
