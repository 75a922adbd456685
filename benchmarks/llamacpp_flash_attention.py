"""Lever on llama.cpp generation of the default pair (Model A: the float32 GGUF, Model B: the shipped Q4_1 file):
flash attention on or off, single stream (one study prompt) and ten parallel sequences (the ten study prompts),
greedy, --max-new-tokens tokens each, with whether the replies stay the same. Kept only if faster with the same
greedy output (issue 12's rule); the backend leaves it off. Not a pass/fail test.

Usage: python benchmarks/llamacpp_flash_attention.py [--max-new-tokens 256] [--out FILE.json]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from benchmarks.llamacpp_levers import measure_backend  # noqa: E402
from models import SamplingSettings  # noqa: E402
from models.backends.llamacpp import DEFAULT_CONTEXT, LlamaCppBackend  # noqa: E402
from models.embedded import EMBEDDED_MODELS, embedded_gguf_path, ensure_f32_gguf  # noqa: E402
from models.llamacpp_buffers import llama_weight_buffers  # noqa: E402
from models.spec import parse_model_spec  # noqa: E402
from models.threads import usable_cores  # noqa: E402
from runs.prompt_sets import load_prompt_set  # noqa: E402


def measure(spec: str, path: Path, flash_attn: bool, conversations, settings: SamplingSettings) -> dict:
    """llamacpp_levers.measure_backend (every core) on the file at `path`, loaded with flash attention on or off."""
    import llama_cpp

    with llama_weight_buffers():  # as the app loads it
        llm = llama_cpp.Llama(model_path=str(path), n_ctx=DEFAULT_CONTEXT, n_threads=usable_cores(),
                              flash_attn=flash_attn, verbose=False)
    backend = LlamaCppBackend(spec=parse_model_spec(spec), llm=llm)
    return measure_backend(backend, conversations, settings, threads=(usable_cores(),))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--out")
    args = parser.parse_args()
    conversations = [[{"role": "user", "content": item.prompt}] for item in load_prompt_set("study")]
    settings = SamplingSettings(temperature=0.0, min_p=0.0, max_new_tokens=args.max_new_tokens, seed=0)
    embedded = EMBEDDED_MODELS["smollm2-135m"]
    results: dict = {}
    for spec, path in (("smollm2-135m-f32-gguf", ensure_f32_gguf(embedded)),
                       ("smollm2-135m-gguf", embedded_gguf_path(embedded))):
        off, on = (measure(spec, path, flag, conversations, settings) for flag in (False, True))
        results[spec] = {
            "off": {k: v for k, v in off.items() if k.endswith("tok_s")},
            "on": {k: v for k, v in on.items() if k.endswith("tok_s")},
            "same_single_reply": off["single_reply"] == on["single_reply"],
            "same_batch_replies": sum(a == b for a, b in zip(off["batch_replies"], on["batch_replies"])),
        }
        print(spec, results[spec], flush=True)
    print(json.dumps(results, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
