"""Cold and warm load time of the embedded model, and generation speed of both backends.

Cold = first use on a machine: the GGUF is dequantised and saved as safetensors (into a fresh cache folder).
Warm = every later process: the safetensors folder is read. Each measurement runs in a fresh process so
that nothing is cached in memory. Usage: python benchmarks/model_load.py [--repeats 3]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PROBE = """
import json, time
started = time.perf_counter()
import torch, transformers, llama_cpp  # imported by the backends on first load; timed apart from the load
from models import load_model, SamplingSettings
imported = time.perf_counter()
backend = load_model({spec!r})
loaded = time.perf_counter()
messages = [{{"role": "user", "content": "Explain how to bake a chocolate cake without using eggs."}}]
generation = backend.complete(messages, SamplingSettings(temperature=0, min_p=0, max_new_tokens=128))
print(json.dumps({{"import_s": imported - started, "load_s": loaded - imported,
                  "tokens": generation.n_tokens, "tokens_per_s": generation.tokens_per_second}}))
"""


def probe(spec: str, cache: str) -> dict:
    env = {**os.environ, "LLM_JUDGE_CACHE": cache, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", PROBE.format(spec=spec)], cwd=REPO_ROOT, env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="llm-judge-bench-cache-") as cache:
        cold = probe("smollm2-135m", cache)
        warm = [probe("smollm2-135m", cache) for _ in range(args.repeats)]
        gguf = [probe("smollm2-135m-gguf", cache) for _ in range(args.repeats)]
    def median(rows, key):
        return statistics.median(r[key] for r in rows)

    print(f"transformers cold load (GGUF -> safetensors conversion): {cold['load_s']:.1f} s")
    print(f"transformers warm load (median of {args.repeats}): {median(warm, 'load_s'):.2f} s "
          f"(after {median(warm, 'import_s'):.1f} s importing torch/transformers/llama_cpp)")
    print(f"llama.cpp load (median): {median(gguf, 'load_s'):.2f} s")
    print(f"greedy 128-token answer: transformers {median(warm, 'tokens_per_s'):.1f} tok/s, "
          f"llama.cpp {median(gguf, 'tokens_per_s'):.1f} tok/s")


if __name__ == "__main__":
    main()
