"""Unsloth's fast inference for transformers models on CUDA: the `unsloth` inference engine (models/accelerators.py).

Only imported where that engine was chosen (CUDA and `pip install -r requirements-gpu.txt`). The model is loaded in
16-bit (bf16 where the card has it, else fp16: Unsloth's dtype=None picks as the transformers path does), never 4-bit,
so that its answers can be compared with the transformers engine's; the tokenizer stays the project's own.
"""
from __future__ import annotations

DEFAULT_MAX_SEQ_LENGTH = 2048  # where a config names no context length


def load_unsloth_model(source: str, revision: str | None = None):
    """The model at `source` (a folder, or a hub id at `revision`) through FastLanguageModel, on the GPU, not yet
    prepared for inference (an adapter is attached first: prepare_for_inference)."""
    from transformers import AutoConfig
    from unsloth import FastLanguageModel

    config = AutoConfig.from_pretrained(source, revision=revision)
    # The model's own context length: a longer one would make Unsloth stretch RoPE, and change the answers.
    max_seq_length = getattr(config, "max_position_embeddings", None) or DEFAULT_MAX_SEQ_LENGTH
    model, _tokenizer = FastLanguageModel.from_pretrained(
        model_name=source, revision=revision, max_seq_length=max_seq_length, dtype=None, load_in_4bit=False,
        # Unsloth maps some hub ids to its own re-uploads (unsloth/...): the weights asked for, and no download.
        use_exact_model_name=True,
    )
    # Its tokenizer is dropped: Unsloth may "fix" it (pad token, padding side), and the backend's batching and
    # prompt counts are those of the project's own tokenizer.
    return model


def prepare_for_inference(model):
    """FastLanguageModel.for_inference on the model (with its adapter, if any): Unsloth's fast generate()."""
    from unsloth import FastLanguageModel

    prepared = FastLanguageModel.for_inference(model)
    return model if prepared is None else prepared  # some Unsloth versions return None and change the model in place
