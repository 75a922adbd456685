"""Heads on a frozen base model's features: a reward head (a scoring judge, trained on preference pairs) and a label
head (a text classifier). finetune/head_training.py fits them; models/backends/head.py serves them as judges.

Features of an answer: the base model's last hidden layer for the chat-templated (prompt, answer), averaged over the
answer's tokens and at its last token, then SIGNALS: the model's own reading of the answer (likelihood, pointwise
mutual information with the prompt, the end of turn, length, surprise) and three text signals. A reward head per
criterion scores an answer w . features; it is fit as Bradley-Terry (logistic regression on feature differences, no
intercept), so P(A better) = sigmoid(s_A - s_B) and swapping the answers flips the verdict exactly: no position
preference is possible by construction.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from basics import cache_rebuilt, write_atomic

HEAD_FILE, META_FILE = "head.npz", "meta.json"


MODEL_SIGNALS = ("mean_logprob", "mean_pmi", "total_pmi", "end_logprob", "log_length", "surprise_share",
                 "low_logprob")
TEXT_SIGNALS = ("prompt_overlap", "repetition", "grading_text")
SIGNALS = MODEL_SIGNALS + TEXT_SIGNALS
WORD = re.compile(r"[a-z0-9]+")
# Text that reads as a judge's verdict (scores, a bracketed choice, an order to the grader): an answer carrying it
# tries to grade itself.
GRADING_TEXT = re.compile(r"\[\[\s*(?:a|b|tie)\s*\]\]|\b(?:verdict|score|rating)\s*[:=]|\b(?:relevance|coherence|"
                          r"completeness|accuracy|helpfulness)\s*[:=]\s*\d|ignore (?:the|all|any) (?:other|previous)",
                          re.IGNORECASE)
# Part of the cache key (features of another version are computed afresh) and of a head's meta.json ("features"; a
# head saved without it reads version 2). Version 3 reads the mutual information over the first PMI_TOKENS tokens
# only, a shorter second pass (benchmarks/judge_reading.py); the shipped default judge was refit on it and agrees as
# well on the held-out sets (recipes/default_judge.py: 95% and 66%, against version 2's 94% and 66%).
FEATURES_VERSION = 3
PMI_TOKENS = 48


def chat_ids(backend, conversation: list[dict]) -> list[int]:
    """The token ids of `conversation` as the backend's chat template makes them (a generation prompt after)."""
    if backend.name == "llamacpp":
        return backend._token_ids(backend._chat_prompt(conversation))
    return backend.encode_chat(conversation)["input_ids"][0].tolist()


def _end_id(backend) -> int:
    """The token that ends an assistant turn (SmolLM2's <|im_end|>), else the end-of-sequence token."""
    if backend.name == "llamacpp":
        found = backend.llm.tokenize(b"<|im_end|>", add_bos=False, special=True)
        return found[0] if len(found) == 1 else backend.llm.token_eos()
    end_id = backend.tokenizer.convert_tokens_to_ids("<|im_end|>")
    if end_id is None or end_id == backend.tokenizer.unk_token_id:
        end_id = backend.tokenizer.eos_token_id
    return end_id


def _token_passes(backend, sequences: list[list[int]], batch_size: int):
    """For each token list: the last hidden layer over its tokens, each token's log probability given what precedes
    it (0 for the first), and its token ids. llama.cpp reads a batch in one decode, their shared prefix once
    (models/llamacpp_reading.py); transformers in right-padded batches, one forward pass each."""
    import torch

    if backend.name == "llamacpp":
        from models.llamacpp_reading import llamacpp_token_passes

        for (hidden, logprobs), sequence in zip(llamacpp_token_passes(backend, sequences, batch_size), sequences):
            yield torch.from_numpy(hidden), torch.from_numpy(logprobs), torch.tensor(sequence)
        return
    tokenizer, model = backend.tokenizer, backend.model
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    for start in range(0, len(sequences), batch_size):
        encoded = [torch.tensor(s, dtype=torch.long) for s in sequences[start:start + batch_size]]
        width = max(len(ids) for ids in encoded)
        ids = torch.full((len(encoded), width), pad, dtype=torch.long)
        mask = torch.zeros((len(encoded), width), dtype=torch.long)
        for row, sequence in enumerate(encoded):
            ids[row, : len(sequence)], mask[row, : len(sequence)] = sequence, 1
        with torch.inference_mode():
            out = model(input_ids=ids.to(backend.device), attention_mask=mask.to(backend.device),
                        output_hidden_states=True)
            logprobs = torch.log_softmax(out.logits.float(), dim=-1)[:, :-1].gather(
                -1, ids[:, 1:, None].to(out.logits.device))[..., 0].cpu()
        hidden = out.hidden_states[-1].float().cpu()
        for row, sequence in enumerate(encoded):
            n = len(sequence)  # logprob of token j sits at j - 1; token 0 has none
            yield hidden[row, :n], torch.cat([torch.zeros(1), logprobs[row, : n - 1]]), sequence


def _answer_span(sequence, start: int, end_id: int) -> tuple[int, int]:
    """[start, end) of the answer's own tokens: after the prompt, before the turn's end token."""
    ends = (sequence[start:] == end_id).nonzero()
    return start, start + int(ends[0, 0]) if len(ends) else len(sequence)


def text_signals(prompt: str, answer: str) -> np.ndarray:
    """What the text shows without a model (TEXT_SIGNALS): the share of the answer's words found in the prompt
    (on topic, or copying it), the share of its word triples said before (a degenerate loop), and whether it carries
    grading text."""
    words, asked = WORD.findall(answer.lower()), set(WORD.findall(prompt.lower()))
    content = [w for w in words if len(w) > 3]
    overlap = sum(w in asked for w in content) / len(content) if content else 0.0
    triples = list(zip(words, words[1:], words[2:]))
    repetition = 1 - len(set(triples)) / len(triples) if triples else 0.0
    return np.array([overlap, repetition, float(bool(GRADING_TEXT.search(answer)))], dtype=np.float32)


def answer_features(backend, prompt: str, answers: list[str], batch_size: int = 8, signals: bool = True,
                    version: int = FEATURES_VERSION) -> np.ndarray:
    """The features a head reads (see model_features), with TEXT_SIGNALS after the model's when `signals`."""
    found = model_features(backend, prompt, answers, batch_size, signals, version)
    return with_text_signals(found, prompt, answers) if signals else found


def with_text_signals(found: np.ndarray, prompt: str, answers: list[str]) -> np.ndarray:
    """The model's features of `answers` with their TEXT_SIGNALS appended (they need no model, so no cache)."""
    return np.concatenate([found, np.stack([text_signals(prompt, a) for a in answers])], axis=1)


def model_features(backend, prompt: str, answers: list[str], batch_size: int = 8, signals: bool = True,
                   version: int = FEATURES_VERSION) -> np.ndarray:
    """(len(answers), 2 x hidden + len(MODEL_SIGNALS)) features of each answer to `prompt` from a transformers or
    llama.cpp backend: the last hidden layer averaged over the answer's tokens and at its last token, then the model's
    own reading of the answer (SIGNALS): how likely its tokens are after the prompt (fluency), how much likelier than
    with no prompt (pointwise mutual information: relevance), how likely the turn ends where the answer stops
    (completeness), its length, and how often a token surprises the model (shuffled or injected text). Version 3 reads
    the mutual information over the answer's first PMI_TOKENS tokens (whether it starts on the question), so the pass
    without the prompt is that short; version 2 read it over the whole answer, a second full pass. Without `signals`
    only the hidden-layer part, in one pass (what a text classifier needs)."""
    import torch

    asked = [{"role": "user", "content": prompt}]
    unprompted = [{"role": "user", "content": ""}]
    with_prompt, without_prompt = len(chat_ids(backend, asked)), len(chat_ids(backend, unprompted))
    turns = [[{"role": "assistant", "content": a}] for a in answers]
    prompted = [chat_ids(backend, asked + t) for t in turns]
    if not signals:
        return np.stack([np.concatenate([hidden[min(with_prompt, len(seq) - 1):].mean(0).numpy(),
                                         hidden[len(seq) - 1].numpy()])
                         for hidden, _, seq in _token_passes(backend, prompted, batch_size)])
    end_id = _end_id(backend)
    head = PMI_TOKENS if version >= 3 else None
    alone_ids = [chat_ids(backend, unprompted + t) for t in turns]
    if head:  # only the first tokens are compared: the pass without the prompt reads no further
        alone_ids = [ids[: without_prompt + head] for ids in alone_ids]
    alone = [lp[slice(*_answer_span(seq, without_prompt, end_id))] for _, lp, seq in
             _token_passes(backend, alone_ids, batch_size)]
    rows = []
    for (hidden, lp, seq), lp_alone in zip(_token_passes(backend, prompted, batch_size), alone):
        first, stop = _answer_span(seq, with_prompt, end_id)
        own = lp[first:stop] if stop > first else torch.zeros(1)
        n = max(stop - first, 1)
        compared = min(len(own), len(lp_alone)) if head else len(own)
        pmi = own[:compared].sum().item() - lp_alone[:compared].sum().item()
        end_lp = lp[stop].item() if stop < len(seq) else 0.0
        signals = [own.mean().item(), pmi / max(compared, 1), pmi / 100.0, end_lp, float(np.log1p(n)),
                   (own < -6).float().mean().item(), torch.quantile(own, 0.1).item()]
        answer_part = hidden[min(with_prompt, len(seq) - 1):]
        rows.append(np.concatenate([answer_part.mean(0).numpy(), hidden[len(seq) - 1].numpy(),
                                    np.array(signals, dtype=np.float32)]))
    return np.stack(rows)


FEATURES_DAMAGED = ("a damaged entry of the feature cache (.cache/features in the results folder) was computed "
                    "afresh and written again")


def feature_width(backend, signals: bool = True) -> int | None:
    """How many features model_features gives a row for this backend (None where its hidden size is unknown)."""
    hidden = backend.llm.n_embd() if backend.name == "llamacpp" else getattr(
        getattr(getattr(backend, "model", None), "config", None), "hidden_size", None)
    return None if hidden is None else 2 * hidden + (len(MODEL_SIGNALS) if signals else 0)


class FeatureCache:
    """Features on disk by (base, prompt, answer), so measuring again or training more heads costs nothing twice.
    `base` names the reader too (an int8 reading is another key). Each row is its own .npy file, written atomically;
    one that cannot be read or is not a row of this reading (shape, dtype, non-finite values) is computed afresh
    and written again, with a notice (basics.cache_rebuilt), never used."""

    def __init__(self, folder: Path, base: str, signals: bool = True, version: int = FEATURES_VERSION):
        self.folder, self.base, self.signals, self.version = Path(folder), base, signals, version
        self.folder.mkdir(parents=True, exist_ok=True)

    def _path(self, prompt: str, answer: str) -> Path:
        # The version is in the key: a row of another version is never looked up.
        kind = [self.version] if self.signals else [2, "hidden only"]  # the hidden layer is the same in versions 2, 3
        key = hashlib.sha256(json.dumps([self.base, *kind, prompt, answer]).encode("utf-8")).hexdigest()
        return self.folder / f"{key}.npy"

    def _read(self, path: Path, width: int | None) -> np.ndarray | None:
        """The stored row, or None when there is none or it is damaged (then the notice is queued)."""
        try:
            row = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, EOFError):  # cut short, garbage, not an .npy file
            row = None
        if row is not None and _usable_row(row, width):
            return row
        cache_rebuilt(FEATURES_DAMAGED)
        return None

    def features(self, backend, prompt: str, answers: list[str]) -> np.ndarray:
        width = feature_width(backend, self.signals)
        rows = {a: self._read(self._path(prompt, a), width) for a in dict.fromkeys(answers)}
        missing = [a for a, row in rows.items() if row is None]
        if missing:
            for answer, row in zip(missing, model_features(backend, prompt, missing, signals=self.signals,
                                                           version=self.version)):
                rows[answer] = row
                if _usable_row(row, width):  # a reading gone wrong (NaN) is used once, not kept to be used again
                    write_atomic(self._path(prompt, answer), lambda f, row=row: np.save(f, row))
        found = np.stack([rows[a] for a in answers])
        return with_text_signals(found, prompt, answers) if self.signals else found


def _usable_row(row: np.ndarray, width: int | None) -> bool:
    return (row.dtype == np.float32 and row.ndim == 1 and (width is None or row.shape == (width,))
            and bool(np.isfinite(row).all()))


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
        (folder / META_FILE).write_text(json.dumps({"signals": True, "features": FEATURES_VERSION, **self.meta,
                                                    "kind": "reward_head",
                                                    "scale": list(self.scale),
                                                    "criteria": list(self.weights)}, indent=2), encoding="utf-8")
        return folder

    @classmethod
    def load(cls, folder: Path) -> RewardHead:
        folder = Path(folder)
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        with np.load(folder / HEAD_FILE) as stored:
            weights = {c: stored[c] for c in meta["criteria"]}
        return cls(weights, tuple(meta["scale"]), meta)

    @property
    def signals(self) -> bool:
        return bool(self.meta.get("signals"))  # heads saved before the signals existed read the hidden layer only

    @property
    def features_version(self) -> int:
        return int(self.meta.get("features", 2))  # heads saved before version 3 read version 2

    @property
    def weights_kind(self) -> str:
        return self.meta.get("weights", "float32")  # "int8", "bfloat16": read by feature_reader's copy


@dataclass
class LabelHead:
    """A text classifier on the same features: a weight vector and a bias per label, softmax over the labels.
    `prompt` is the instruction the texts are read under (their features depend on it)."""

    weights: dict[str, np.ndarray]  # label -> (features,) weights
    biases: dict[str, float]
    prompt: str
    meta: dict = field(default_factory=dict)
    signals: bool = False  # a classifier reads the hidden layer only (see answer_features)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.weights)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """(texts, labels) probabilities, rows summing to 1, labels in `labels` order."""
        raw = np.stack([features @ self.weights[x] + self.biases[x] for x in self.labels], axis=1)
        raw = np.exp(raw - raw.max(axis=1, keepdims=True))
        return raw / raw.sum(axis=1, keepdims=True)

    def save(self, folder: Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / HEAD_FILE, **self.weights)
        (folder / META_FILE).write_text(json.dumps({**self.meta, "kind": "label_head", "labels": list(self.labels),
                                                    "biases": self.biases, "prompt": self.prompt}, indent=2),
                                        encoding="utf-8")
        return folder


def load_head(folder: Path) -> RewardHead | LabelHead:
    """The head saved in `folder`, of the kind its meta.json names."""
    folder = Path(folder)
    meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    if meta.get("kind") == "label_head":
        with np.load(folder / HEAD_FILE) as stored:
            weights = {x: stored[x] for x in meta["labels"]}
        return LabelHead(weights, {x: float(meta["biases"][x]) for x in meta["labels"]}, meta["prompt"], meta)
    return RewardHead.load(folder)
