"""llama.cpp's batched generation in a process where torch computed first, against one where it did not.

Found while moving the bfloat16 reader's weight cast to load time (models/feature_readers.py): the study's first
llama.cpp generation then took ~40% longer. Each condition runs in a fresh process that loads the default judge's
transformers base and the embedded GGUF, does one thing to the base's weights, then answers the ten study prompts in
one batch from a worker thread (as runs/pipeline.py does) and reports tokens/s:

- `none`: nothing (the base's weights are loaded, never read);
- `torch`: a torch reduction over every linear weight on torch's default threads;
- `torch1`: the same on one torch thread (torch.set_num_threads(1));
- `numpy`: the same reduction in numpy (the weights read, no torch thread started);
- `torch_then1`: `torch`, then torch set to one thread before the generation;
- `torch_same_thread`: `torch`, then the generation in the thread that ran it (the main thread), not a worker;
- `torch_both`: `torch`, then the worker runs the reduction too before it generates (as in the app, where any of the
  server's threads may have read a judge's features before it generates);
- `torch_released`: `torch`, then the main thread starts a one-thread OpenMP region (libgomp's GOMP_parallel through
  ctypes), to see whether shrinking its pool gives the cores back (it did not: 0.80x).

Conditions alternate for --rounds rounds, so a machine whose speed drifts shows in every condition alike. Not a
pass/fail test.

Usage: python benchmarks/torch_before_llamacpp.py [--rounds 2] [--max-new-tokens 128] [--out FILE.json]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONDITIONS = ("none", "torch", "torch1", "numpy", "torch_then1", "torch_same_thread", "torch_both", "torch_released")


def child(condition: str, max_new_tokens: int) -> None:
    import time
    from concurrent.futures import ThreadPoolExecutor

    sys.path[:0] = [str(ROOT)]
    import torch

    from models import PRESETS
    from models.registry import load_model
    from runs.prompt_sets import load_prompt_set

    base, gguf = load_model("smollm2-135m"), load_model("smollm2-135m-gguf")
    linears = [m.weight.detach() for m in base.model.modules() if isinstance(m, torch.nn.Linear)]
    if condition == "torch1":
        torch.set_num_threads(1)
    if condition.startswith("torch"):
        sum(float(w.sum()) for w in linears)
    elif condition == "numpy":
        sum(float(w.numpy().sum()) for w in linears)
    if condition == "torch_then1":
        torch.set_num_threads(1)
    if condition == "torch_released":
        import ctypes
        gomp = ctypes.CDLL("libgomp.so.1")
        noop = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(lambda _: None)
        gomp.GOMP_parallel(noop, None, 1, 0)
    messages = [[{"role": "user", "content": item.prompt}] for item in load_prompt_set("study")[:10]]
    settings = PRESETS["p2"].with_(max_new_tokens=max_new_tokens, seed=0)

    def answer() -> tuple[int, float]:
        if condition == "torch_both":
            sum(float(w.sum()) for w in linears)
        started = time.perf_counter()
        answers = gguf.generate_batch(messages, settings, batch_size=len(messages))
        return sum(a.n_tokens for a in answers), time.perf_counter() - started

    if condition == "torch_same_thread":
        tokens, seconds = answer()
    else:
        tokens, seconds = ThreadPoolExecutor(max_workers=1).submit(answer).result()
    print(json.dumps({"condition": condition, "tokens": tokens, "tok_s": round(tokens / seconds, 1)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--out")
    parser.add_argument("--child", choices=CONDITIONS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.max_new_tokens)
        return
    found: dict[str, list[float]] = {c: [] for c in CONDITIONS}
    for round_ in range(args.rounds):
        for condition in CONDITIONS:
            done = subprocess.run([sys.executable, __file__, "--child", condition, "--max-new-tokens",
                                   str(args.max_new_tokens)], cwd=ROOT, capture_output=True, text=True, check=True)
            row = json.loads(done.stdout.strip().splitlines()[-1])
            found[condition].append(row["tok_s"])
            print(f"round {round_ + 1}: {condition:7s} {row['tok_s']:6.1f} tok/s ({row['tokens']} tokens)", flush=True)
    summary = {c: {"tok_s": values, "median": statistics.median(values)} for c, values in found.items()}
    for condition, row in summary.items():
        print(f"{condition:7s} median {row['median']:6.1f} tok/s, {row['median'] / summary['none']['median']:.2f}x "
              "of none")
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
