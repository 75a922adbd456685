"""Export an adapter: a merged 16-bit model folder, or a GGUF LoRA file that llama.cpp applies to the base GGUF.

GGUF LoRA layout as llama.cpp's convert_lora_to_gguf.py writes it: general.type "adapter", adapter.type "lora",
adapter.lora.alpha, and per target weight `<gguf tensor name>.lora_a` / `.lora_b`. llama.cpp stores the llama
Q and K projections with their rows permuted for its RoPE layout, so lora_B of q_proj / k_proj is permuted too.
Usage: python -m finetune.export ADAPTER_DIR [--merged OUT_DIR] [--gguf OUT_FILE]
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from basics import UserFacingError
from finetune.config import base_source
from models.adapter_files import ADAPTER_GGUF
from models.spec import parse_model_spec, recorded_adapter_base

GGUF_NAMES = {"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
              "gate_proj": "ffn_gate", "up_proj": "ffn_up", "down_proj": "ffn_down"}
_LORA_KEY = re.compile(r"layers\.(\d+)\.(?:self_attn|mlp)\.(\w+)\.lora_([AB])\.weight$")


class ExportError(UserFacingError):
    """An adapter cannot be exported as asked."""


def _base_folder(adapter_dir: Path) -> Path:
    recorded = recorded_adapter_base(adapter_dir)
    if not recorded:
        raise ExportError(f"{adapter_dir}: no base model recorded (meta.json or adapter_config.json)")
    return Path(base_source(parse_model_spec(recorded)))


def permute_rows(weight, n_head: int):
    """llama.cpp's Q/K row order: within each head, interleaved RoPE pairs become two halves."""
    return (weight.reshape(n_head, 2, weight.shape[0] // n_head // 2, *weight.shape[1:])
            .swapaxes(1, 2).reshape(weight.shape))


def export_gguf_lora(adapter_dir: str | Path, out_file: str | Path | None = None) -> Path:
    import gguf
    from safetensors.torch import load_file

    adapter_dir = Path(adapter_dir)
    out_file = Path(out_file) if out_file else adapter_dir / ADAPTER_GGUF
    adapter_config = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    base_config = json.loads((_base_folder(adapter_dir) / "config.json").read_text(encoding="utf-8"))
    if base_config.get("model_type") != "llama":
        raise ExportError(f"GGUF LoRA export supports llama-architecture bases, not {base_config.get('model_type')!r}")
    n_head = base_config["num_attention_heads"]
    n_kv_head = base_config.get("num_key_value_heads", n_head)
    tensors = {}
    for key, value in load_file(str(adapter_dir / "adapter_model.safetensors")).items():
        match = _LORA_KEY.search(key)
        if not match or match.group(2) not in GGUF_NAMES:
            raise ExportError(f"{adapter_dir}: cannot map adapter tensor {key!r} to a llama.cpp tensor")
        layer, module, part = int(match.group(1)), match.group(2), match.group(3)
        value = value.float()
        if part == "B" and module in ("q_proj", "k_proj"):
            value = permute_rows(value, n_head if module == "q_proj" else n_kv_head)
        tensors[f"blk.{layer}.{GGUF_NAMES[module]}.weight.lora_{part.lower()}"] = value.contiguous().numpy()
    writer = gguf.GGUFWriter(str(out_file), "llama")
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(adapter_config["lora_alpha"]))
    for name in sorted(tensors):
        writer.add_tensor(name, tensors[name])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out_file


def export_merged(adapter_dir: str | Path, out_dir: str | Path, dtype: str = "float16") -> Path:
    """The base with the adapter merged in, saved as a 16-bit model folder loadable as a BASE spec."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = _base_folder(Path(adapter_dir))
    model = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32)
    merged = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    merged.to(getattr(torch, dtype)).save_pretrained(str(out_dir))
    AutoTokenizer.from_pretrained(str(base)).save_pretrained(str(out_dir))
    return Path(out_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m finetune.export", description=__doc__.splitlines()[0])
    parser.add_argument("adapter", help="PEFT adapter folder (e.g. adapters/demo/step-40)")
    parser.add_argument("--merged", help="write the merged 16-bit model to this folder")
    parser.add_argument("--dtype", default="float16", choices=("float16", "bfloat16"))
    parser.add_argument("--gguf", nargs="?", const="", help="write a GGUF LoRA (default: ADAPTER/adapter.gguf)")
    args = parser.parse_args(argv)
    try:
        if args.merged:
            print(export_merged(args.adapter, args.merged, args.dtype))
        if args.gguf is not None or not args.merged:
            print(export_gguf_lora(args.adapter, args.gguf or None))
    except UserFacingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
