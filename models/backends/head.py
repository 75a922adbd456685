"""A scoring judge as a backend: a reward head (models/reward_head.py) on its base model's frozen features.

It scores answers; it cannot write them. Judging asks a reward head for `answer_scores` (judge/judging.py), and a
pairwise verdict from two scores is the same whichever answer is shown first; a label head (a text classifier) answers
`label_probabilities` (judge/labels.py). Spec: `head:FOLDER` (a folder holding head.npz and meta.json), or the name
of a judge shipped in adapters/shipped/ (models/spec.py SHIPPED_JUDGES).
"""
from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from basics import results_dir
from models.backend import Backend, Capabilities, Message
from models.errors import ModelLoadError
from models.feature_readers import feature_reader, reads_bfloat16
from models.reward_head import META_FILE, FeatureCache, LabelHead, RewardHead, load_head
from models.settings import SamplingSettings
from models.spec import HEAD_PREFIX, ModelSpec, parse_model_spec, transformers_source


@dataclass
class HeadBackend(Backend):
    base: Any = None  # the base model, loaded (transformers or llama.cpp)
    head: RewardHead | LabelHead | None = None
    name: str = "head"
    features: FeatureCache | None = None  # on disk: an answer judged again (other order, re-run) is not re-read
    reading: str = "float32"  # the weights its features are read with here (models/feature_readers.py)
    # The base as reading_base gave it, before a bfloat16 or int8 reader wrapped it: held so that a torch reader
    # shared through _READERS stays loaded as long as a head reads with it.
    read_from: Any = field(default=None, repr=False)

    capabilities: ClassVar[Capabilities] = Capabilities(streaming=False, answer_scores=True)

    def stream(self, messages: list[Message], settings: SamplingSettings) -> Iterator[str]:
        raise ModelLoadError(f"{self.spec.text} is a scoring judge: it scores answers and cannot write them; use it "
                             "as a judge, and a generative model as Model A or B")

    @property
    def computes_on_this_cpu(self) -> bool:
        return self.base.computes_on_this_cpu

    def count_tokens(self, text: str) -> int:
        return self.base.count_tokens(text)

    @property
    def criteria(self) -> tuple[str, ...]:
        return tuple(self.head.weights) if isinstance(self.head, RewardHead) else ()

    @property
    def labels(self) -> tuple[str, ...]:
        return self.head.labels if isinstance(self.head, LabelHead) else ()

    def answer_scores(self, prompt: str, answers: list[str]) -> list[dict[str, float]]:
        """Each answer's score per criterion, on the head's scale."""
        with self.base.lock, self._threads():
            features = self.features.features(self.base, prompt, answers)
        scores = self.head.scores(features)
        return [{c: round(float(scores[c][i]), 4) for c in self.criteria} for i in range(len(answers))]

    def label_probabilities(self, texts: list[str]) -> list[dict[str, float]]:
        """Each text's probability of each label (a label head: read under the instruction it was trained with)."""
        with self.base.lock, self._threads():
            features = self.features.features(self.base, self.head.prompt, texts)
        found = self.head.probabilities(features)
        return [{x: round(float(row[i]), 5) for i, x in enumerate(self.labels)} for row in found]

    def _threads(self):
        """transformers takes its share of the cores for the whole reading; llama.cpp takes it per decode
        (models/llamacpp_reading.py)."""
        compute_threads = getattr(self.base, "compute_threads", None)
        return compute_threads() if compute_threads else nullcontext()

    def describe(self) -> dict:
        kind = {"labels": list(self.labels)} if self.labels else {"criteria": list(self.criteria)}
        # Where the features are computed: the base model's device, dtype and engine (models/accelerators.py).
        where = {k: v for k, v in self.base.describe().items() if k in ("device", "dtype", "engine")}
        if self.base.name == "llamacpp":
            where = {"device": "cpu" if self.base.computes_on_this_cpu else "gpu", "engine": "llama.cpp",
                     "dtype": "float32" if self.base.spec.float32_gguf else "gguf"}
        return {**super().describe(), "base": self.head.meta.get("base"), **kind, **where, "reading": self.reading}


def load_head_backend(spec: ModelSpec) -> HeadBackend:
    folder = Path(spec.base[len(HEAD_PREFIX):])
    started = time.perf_counter()
    try:
        head = load_head(folder)
    except (OSError, KeyError, ValueError) as exc:
        raise ModelLoadError(f"cannot read the scoring judge in {folder} ({exc}): it needs head.npz and {META_FILE}, "
                             "as finetune/head_training.py writes them") from exc
    weights = head.weights_kind if isinstance(head, RewardHead) else "float32"
    base = reading_base(head.meta.get("base") or "smollm2-135m", weights)
    if base.name not in ("transformers", "llamacpp"):
        raise ModelLoadError(f"the scoring judge in {folder} needs a transformers or llama.cpp base, not "
                             f"{base.spec.text}")
    version = head.features_version if isinstance(head, RewardHead) else 2
    if reads_bfloat16(head.meta, base):  # measured alike reading float32 and bfloat16: the faster one here
        weights = "bfloat16"
    try:
        reader, key = feature_reader(base, weights)
    except ValueError as exc:
        raise ModelLoadError(f"the scoring judge in {folder} was fit on {weights} features: {exc}") from exc
    cache = FeatureCache(results_dir() / ".cache" / "features", key, signals=head.signals, version=version)
    return HeadBackend(spec=spec, base=reader, head=head, features=cache, reading=weights, read_from=base,
                       load_seconds=time.perf_counter() - started)


_READERS: weakref.WeakValueDictionary = weakref.WeakValueDictionary()  # base spec -> its torch reader, while held
_READERS_LOCK = threading.Lock()


def reading_base(spec_text: str, weights: str = "float32"):
    """The model a head reads its features with. A plain Llama folder (the embedded model's conversion, or a local
    folder) on the CPU is read by models/torch_llama.py: the same features bit for bit without ~2.3 s of transformers'
    model imports, shared by every head on that base while one is loaded. The registry's model otherwise: where it is
    loaded already (Model A on transformers, say: one copy in memory), for hub ids, adapters, GPUs, int8 readings and
    other architectures."""
    from models.registry import load_model, loaded_models

    spec = parse_model_spec(spec_text)
    if (spec.backend != "transformers" or spec.adapter or spec.base_kind not in ("embedded", "local")
            or weights == "int8" or spec.text in loaded_models()):
        return load_model(spec)
    import torch

    from models.backends.hf import TransformersBackend
    from models.torch_llama import load_reader, readable_folder

    folder = Path(transformers_source(spec))
    if torch.cuda.is_available() or not readable_folder(folder):
        return load_model(spec)
    with _READERS_LOCK:
        found = _READERS.get(spec.text)
        if found is None:
            started = time.perf_counter()
            model, tokenizer = load_reader(folder, embedded=spec.base_kind == "embedded")
            found = TransformersBackend(spec=spec, model=model, tokenizer=tokenizer, device="cpu", engine="torch",
                                        load_seconds=time.perf_counter() - started)
            _READERS[spec.text] = found
        return found
