"""The embedded model's tokenizer for a scoring judge's torch reading (models/torch_llama.py), without transformers.

`from transformers import PreTrainedTokenizerFast` imports transformers' package, ~0.5-0.7 s on this project's 2-core
CPU (it maps every model folder it ships for its lazy imports), and loading the tokenizer took ~0.2 s more: a third
of the default judge's load once its model code was gone. A reading needs only the chat template's token ids. This
reads the folder's tokenizer.json with the `tokenizers` library (what transformers' fast tokenizer wraps) and renders
its chat template with jinja2 in a sandbox set up as transformers sets it up (chat_template_utils: trim_blocks,
lstrip_blocks, loop controls, `raise_exception`, `strftime_now`, its `tojson`), the named special tokens passed to
the template as transformers passes them.

Only the embedded model's conversion is read this way (models/embedded.py writes it; reading_base knows it): its ids
are transformers' for every conversation tests/models/test_chat_tokenizer.py tries. transformers' loading adjusts
other folders' tokenizers (added special tokens, post-processors, prefix spaces, legacy modes), so any other folder,
and a template that needs more than this sets up, keeps transformers' tokenizer.
"""
from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

TEMPLATE_FILE = "chat_template.jinja"
NAMED_TOKENS = ("bos_token", "eos_token", "unk_token", "pad_token")
GENERATION_TAG = re.compile(r"\{%-?\s*generation\s*-?%\}")  # transformers' assistant-mask tag


class ChatTokenizer:
    """The part of transformers' tokenizer API a reading uses: chat-template ids, plain text ids, the named tokens'
    ids, decoding."""

    def __init__(self, tokenizer, config: dict, template: str):
        self._tokenizer = tokenizer
        self._template = _compile(template)
        self.special_tokens = {name: config[name] for name in NAMED_TOKENS if isinstance(config.get(name), str)}
        if "pad_token" not in self.special_tokens and "eos_token" in self.special_tokens:
            self.special_tokens["pad_token"] = self.special_tokens["eos_token"]  # as load_reader sets it

    def __getattr__(self, name: str):
        token = name.removesuffix("_id")
        if name.endswith("_token_id") and token in NAMED_TOKENS:
            found = self.special_tokens.get(token)
            return None if found is None else self.convert_tokens_to_ids(found)
        if name in NAMED_TOKENS:
            return self.special_tokens.get(name)
        raise AttributeError(name)

    def convert_tokens_to_ids(self, token: str) -> int | None:
        found = self._tokenizer.token_to_id(token)
        if found is not None or token == self.special_tokens.get("unk_token"):
            return found
        return self.unk_token_id  # transformers' answer for a token the vocabulary lacks

    def __call__(self, text: str, add_special_tokens: bool = True, return_tensors: str | None = None) -> dict:
        ids = self._tokenizer.encode(text, add_special_tokens=add_special_tokens).ids
        return _as_batch(ids, return_tensors)

    def render(self, messages: list[dict], add_generation_prompt: bool = False) -> str:
        return self._template.render(messages=[dict(m) for m in messages], tools=None, documents=None,
                                     add_generation_prompt=add_generation_prompt, **self.special_tokens)

    def apply_chat_template(self, messages: list[dict], add_generation_prompt: bool = False, tokenize: bool = True,
                            return_dict: bool = True, return_tensors: str | None = None):
        text = self.render(messages, add_generation_prompt)
        if not tokenize:
            return text
        encoded = self(text, add_special_tokens=False, return_tensors=return_tensors)
        return encoded if return_dict else encoded["input_ids"]

    def decode(self, ids, skip_special_tokens: bool = False) -> str:
        return self._tokenizer.decode(list(ids), skip_special_tokens=skip_special_tokens)


def _as_batch(ids: list[int], return_tensors: str | None) -> dict:
    if return_tensors == "pt":
        import torch

        return {"input_ids": torch.tensor([ids]), "attention_mask": torch.ones((1, len(ids)), dtype=torch.long)}
    if return_tensors is not None:
        raise ValueError(f"return_tensors={return_tensors!r}: only 'pt' or None")
    return {"input_ids": ids, "attention_mask": [1] * len(ids)}


def _compile(template: str):
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message):
        from jinja2.exceptions import TemplateError

        raise TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    environment.filters["tojson"] = tojson
    environment.globals["raise_exception"] = raise_exception
    environment.globals["strftime_now"] = lambda format: datetime.now().strftime(format)
    return environment.from_string(template)


def load_chat_tokenizer(folder: Path) -> ChatTokenizer | None:
    """The tokenizer of the embedded model's converted `folder`, or None where this does not read it as transformers
    would (no tokenizer.json or template file, another tokenizer class, a template that uses more than this sets up:
    its `generation` tag, its `namespace` or `dict` helpers)."""
    try:
        config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
        template = (folder / TEMPLATE_FILE).read_text(encoding="utf-8")
    except (OSError, ValueError):
        return None
    if (config.get("tokenizer_class") not in ("TokenizersBackend", "PreTrainedTokenizerFast")
            or GENERATION_TAG.search(template) or "namespace(" in template or "dict(" in template
            or not (folder / "tokenizer.json").is_file()):
        return None
    if config.get("add_bos_token") or config.get("add_eos_token") or config.get("add_prefix_space"):
        return None
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return ChatTokenizer(tokenizer, config, template)
