"""A Llama-architecture model's forward pass in torch alone, for a scoring judge's reading (models/reward_head.py).

A head reads its base's last hidden layer and log probabilities; it never generates. transformers' model classes cost
~2.3 s of imports on this CPU before the first weight loads (torch.distributed, torch._dynamo, scipy.optimize and more,
pulled in by its loading and kernel code): more than the study's gap to its goal (benchmarks/study_speed.py). This
module builds the same layers under the same weight names over the folder's safetensors and runs the same operations
in the same order, so CPU autocast to bfloat16 casts the same ones (models/feature_readers.py) and the features are
transformers' bit for bit (tests/models/test_torch_llama.py). The embedded model's tokenizer is read without
transformers too (models/chat_tokenizer.py: transformers' ids, tests/models/test_chat_tokenizer.py); any other
folder's is transformers' own tokenizer class.

Only what that was checked on is read this way: a `llama` config with SiLU, the default rotary embedding, no biases,
one safetensors file, on the CPU. Anything else loads through transformers, as does every model that generates.
"""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import torch
from torch import nn

WEIGHTS_FILE = "model.safetensors"


def readable_folder(folder: Path) -> bool:
    """Whether this module reads the model in `folder` as transformers would (else load it through transformers)."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    rope = config.get("rope_parameters") or {"rope_type": "default", "rope_theta": config.get("rope_theta")}
    return bool(config.get("model_type") == "llama" and config.get("architectures") == ["LlamaForCausalLM"]
                and config.get("hidden_act") == "silu" and rope.get("rope_type") == "default"
                and rope.get("rope_theta") and not config.get("rope_scaling") and not config.get("attention_bias")
                and not config.get("mlp_bias") and config.get("pretraining_tp", 1) == 1
                and (folder / WEIGHTS_FILE).is_file() and (folder / "tokenizer.json").is_file())


def _linear(weight: torch.Tensor) -> nn.Linear:
    """An nn.Linear (that very type, so the bfloat16 and int8 readers find it) over `weight`, made without drawing
    random weights first: that costs ~0.8 s for this model, and the meta device's way round it imports torch._dynamo
    (~1 s)."""
    layer = nn.Linear.__new__(nn.Linear)
    nn.Module.__init__(layer)
    layer.in_features, layer.out_features = weight.shape[1], weight.shape[0]
    layer.weight = nn.Parameter(weight, requires_grad=False)
    layer.register_parameter("bias", None)
    return layer


def _part(weights: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}


class _RMSNorm(nn.Module):
    def __init__(self, weight: torch.Tensor, eps: float):
        super().__init__()
        self.weight, self.variance_epsilon = nn.Parameter(weight, requires_grad=False), eps

    def forward(self, hidden):
        dtype = hidden.dtype
        hidden = hidden.to(torch.float32)
        hidden = hidden * torch.rsqrt(hidden.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return self.weight * hidden.to(dtype)


def _rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class _Attention(nn.Module):
    def __init__(self, c: SimpleNamespace, w: dict):
        super().__init__()
        self.head_dim, self.groups = c.head_dim, c.num_attention_heads // c.num_key_value_heads
        self.scaling = self.head_dim ** -0.5
        self.q_proj, self.k_proj, self.v_proj, self.o_proj = (_linear(w[f"{x}_proj.weight"]) for x in "qkvo")

    def forward(self, hidden, cos, sin, mask):
        shape = (*hidden.shape[:-1], -1, self.head_dim)
        q, k, v = (proj(hidden).view(shape).transpose(1, 2) for proj in (self.q_proj, self.k_proj, self.v_proj))
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
        q, k = (q * cos) + (_rotate_half(q) * sin), (k * cos) + (_rotate_half(k) * sin)
        # As transformers' SDPA path: with no padding SDPA's own causal mask over grouped heads; with padding a boolean
        # mask over the key and value heads repeated.
        if mask is None:
            out = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0.0,
                                                             scale=self.scaling, is_causal=True, enable_gqa=True)
        else:
            k, v = (x.repeat_interleave(self.groups, dim=1) if self.groups > 1 else x for x in (k, v))
            out = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=0.0,
                                                             scale=self.scaling, is_causal=False)
        return self.o_proj(out.transpose(1, 2).contiguous().reshape(*hidden.shape[:-1], -1).contiguous())


class _MLP(nn.Module):
    def __init__(self, w: dict):
        super().__init__()
        self.gate_proj, self.up_proj, self.down_proj = (_linear(w[f"{x}_proj.weight"]) for x in ("gate", "up", "down"))

    def forward(self, x):
        return self.down_proj(nn.functional.silu(self.gate_proj(x)) * self.up_proj(x))


class _Layer(nn.Module):
    def __init__(self, c: SimpleNamespace, w: dict):
        super().__init__()
        self.self_attn, self.mlp = _Attention(c, _part(w, "self_attn.")), _MLP(_part(w, "mlp."))
        self.input_layernorm = _RMSNorm(w["input_layernorm.weight"], c.rms_norm_eps)
        self.post_attention_layernorm = _RMSNorm(w["post_attention_layernorm.weight"], c.rms_norm_eps)

    def forward(self, hidden, cos, sin, mask):
        hidden = hidden + self.self_attn(self.input_layernorm(hidden), cos, sin, mask)
        return hidden + self.mlp(self.post_attention_layernorm(hidden))


class LlamaReader(nn.Module):
    """LlamaForCausalLM's forward pass for reading: logits and the last hidden layer (after the final norm, as
    transformers' `hidden_states[-1]`), right-padded batches masked as transformers masks them. Built over `weights`,
    a state dict by transformers' names; a tied output layer shares the embedding's tensor, as transformers ties it."""

    def __init__(self, config: dict, weights: dict[str, torch.Tensor]):
        super().__init__()
        head_dim = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
        self.config = c = SimpleNamespace(**{**config, "head_dim": head_dim, "_commit_hash": None})
        w = {k: v.to(torch.float32) for k, v in weights.items()}
        self.model = nn.Module()
        self.model.embed_tokens = nn.Embedding.from_pretrained(w["model.embed_tokens.weight"], freeze=True)
        self.model.layers = nn.ModuleList(_Layer(c, _part(w, f"model.layers.{i}."))
                                          for i in range(c.num_hidden_layers))
        self.model.norm = _RMSNorm(w["model.norm.weight"], c.rms_norm_eps)
        self.lm_head = _linear(w.get("lm_head.weight", w["model.embed_tokens.weight"]))
        if "lm_head.weight" not in w:
            self.lm_head.weight = self.model.embed_tokens.weight
        theta = (config.get("rope_parameters") or {}).get("rope_theta") or config["rope_theta"]
        self.register_buffer("inv_freq", 1.0 / (theta ** (torch.arange(0, c.head_dim, 2, dtype=torch.float)
                                                          / c.head_dim)), persistent=False)

    @property
    def dtype(self) -> torch.dtype:
        return self.lm_head.weight.dtype

    @property
    def device(self) -> torch.device:
        return self.lm_head.weight.device

    def forward(self, input_ids, attention_mask=None, output_hidden_states: bool = True):
        hidden = self.model.embed_tokens(input_ids)
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)[None]
        freqs = positions[..., None].float() * self.inv_freq.to(device=hidden.device, dtype=torch.float)
        angles = torch.cat((freqs, freqs), dim=-1)
        cos, sin = angles.cos().to(hidden.dtype), angles.sin().to(hidden.dtype)
        mask = None
        if attention_mask is not None and not bool(attention_mask.all()):
            width = input_ids.shape[1]
            causal = torch.ones(width, width, dtype=torch.bool, device=hidden.device).tril()
            mask = causal[None, None] & attention_mask.bool()[:, None, None, :]
        for layer in self.model.layers:
            hidden = layer(hidden, cos, sin, mask)
        hidden = self.model.norm(hidden)
        return SimpleNamespace(logits=self.lm_head(hidden), hidden_states=(hidden,) if output_hidden_states else None)


def load_reader(folder: Path, embedded: bool = False) -> tuple[LlamaReader, object]:
    """(the model, its tokenizer) from a folder readable_folder() accepts, float32 on the CPU, in eval mode. The
    embedded model's conversion (`embedded`) gets models/chat_tokenizer.py's tokenizer, which needs no transformers
    import; any other folder transformers' own."""
    from safetensors.torch import load_file

    from models.chat_tokenizer import load_chat_tokenizer

    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    model = LlamaReader(config, load_file(str(folder / WEIGHTS_FILE)))
    tokenizer = load_chat_tokenizer(folder) if embedded else None
    if tokenizer is None:
        from transformers import PreTrainedTokenizerFast  # the tokenizer alone: none of transformers' model code

        tokenizer = PreTrainedTokenizerFast.from_pretrained(str(folder))
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
    return model.eval(), tokenizer
