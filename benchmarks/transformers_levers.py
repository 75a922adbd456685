"""Levers on batched transformers generation of the embedded model on CPU, each measured against the default and
kept only if it is faster with the same greedy output: attention kernel (SDPA, eager), a static KV cache,
torch.compile of the forward pass (with the static cache, so shapes stay fixed), dynamic int8 quantisation of the
linear layers, and thread counts. torch.compile's cost is reported too: it is paid again by every fresh process.

The workload: the ten study prompts in one batch, greedy, --max-new-tokens tokens each (the product's prompt-set
path, runs/pipeline.py). Reports answer tokens/s and whether every reply equals the default's. Not a pass/fail test.

Usage: python benchmarks/transformers_levers.py [--max-new-tokens 128] [--skip-compile] [--out FILE.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from models import SamplingSettings, load_model  # noqa: E402
from models.registry import unload_all  # noqa: E402
from runs.prompt_sets import load_prompt_set  # noqa: E402


def measure(backend, conversations, settings, generate_kwargs: dict | None = None) -> tuple[list[str], float]:
    """Replies and answer tokens/s of one batched generation (after a short warm-up of the same shape)."""
    original = backend.model.generate
    if generate_kwargs:
        backend.model.generate = lambda *a, **k: original(*a, **{**k, **generate_kwargs})
    try:
        backend.generate_batch(conversations, settings.with_(max_new_tokens=4), batch_size=len(conversations))
        started = time.perf_counter()
        replies = backend.generate_batch(conversations, settings, batch_size=len(conversations))
        seconds = time.perf_counter() - started
    finally:
        backend.model.generate = original
    return [r.text for r in replies], sum(r.n_tokens for r in replies) / seconds


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--skip-compile", action="store_true", help="leave out torch.compile (minutes to compile)")
    parser.add_argument("--out")
    args = parser.parse_args()
    conversations = [[{"role": "user", "content": item.prompt}] for item in load_prompt_set("study")]
    settings = SamplingSettings(temperature=0.0, min_p=0.0, max_new_tokens=args.max_new_tokens)
    backend = load_model("smollm2-135m")
    results = {"attention_default": backend.model.config._attn_implementation, "threads_default":
               torch.get_num_threads()}
    baseline, speed = measure(backend, conversations, settings)
    results["default"] = {"tok_s": round(speed, 1), "same_output": True}

    def record(name: str, replies: list[str], speed: float) -> None:
        results[name] = {"tok_s": round(speed, 1), "same_output": replies == baseline}
        print(name, results[name], flush=True)

    for threads in (1, 2):
        torch.set_num_threads(threads)
        record(f"threads_{threads}", *measure(backend, conversations, settings))
    torch.set_num_threads(results["threads_default"])
    record("static_cache", *measure(backend, conversations, settings, {"cache_implementation": "static"}))
    for attention in ("eager", "sdpa"):
        backend.model.set_attn_implementation(attention)
        record(f"attention_{attention}", *measure(backend, conversations, settings))
    backend.model.set_attn_implementation(results["attention_default"])
    if not args.skip_compile:
        eager_forward = backend.model.forward
        backend.model.forward = torch.compile(eager_forward)
        started = time.perf_counter()  # the first calls compile (prefill and decoding shapes)
        measure(backend, conversations, settings, {"cache_implementation": "static"})
        compile_seconds = time.perf_counter() - started
        record("compile_static_cache", *measure(backend, conversations, settings, {"cache_implementation": "static"}))
        results["compile_static_cache"]["compile_s"] = round(compile_seconds, 1)
        backend.model.forward = eager_forward
    backend.model = torch.ao.quantization.quantize_dynamic(backend.model, {torch.nn.Linear}, dtype=torch.qint8)
    record("dynamic_int8", *measure(backend, conversations, settings))
    unload_all()
    print(json.dumps(results, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
