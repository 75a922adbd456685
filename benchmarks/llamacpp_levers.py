"""Levers on llama.cpp generation of the embedded model on CPU: weight format (the shipped Q4_1 against the same
weights requantised to Q4_0, Q8_0, F16, F32), one stream against parallel sequences (models/backends/
llamacpp_batch.py), and thread counts; each against the shipped model's greedy output.

The memory bound is measured, not quoted: single-stream decoding reads every weight once per token, so its ceiling
is (memory bandwidth) / (weight bytes). Bandwidth is timed here as large numpy copies (read + write), one per core
at once. The shipped model (~98 MB) fits in this machine's L3 cache (260 MB), and part of the float32 one does, so
a format can beat its figure: it is a bound for weights that come from memory.

The workload: the ten study prompts (the deliverable of study_speed.py), greedy, --max-new-tokens tokens each: one
stream (the second prompt), then all ten as parallel sequences. Batched figures depend on how long the sequences
stay busy: a set whose answers stop early (the `general` set: --prompts general) keeps fewer rows per step, so it
gets fewer tokens/s from the same kernels. Requantised copies
are written once to --work (llama_model_quantize; default: the model cache) and reused. Not a pass/fail test.

Usage: python benchmarks/llamacpp_levers.py [--max-new-tokens 256] [--prompts study] [--formats q4_1,q4_0,q8_0,f16,f32]
       [--work DIR] [--out FILE.json]
"""
from __future__ import annotations

import argparse
import ctypes
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from models import SamplingSettings, load_model  # noqa: E402
from models.embedded import EMBEDDED_MODELS, cache_root, embedded_gguf_path  # noqa: E402
from models.registry import unload_all  # noqa: E402
from runs.prompt_sets import load_prompt_set  # noqa: E402

FORMATS = {"q4_0": "LLAMA_FTYPE_MOSTLY_Q4_0", "q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0",
           "f16": "LLAMA_FTYPE_MOSTLY_F16", "f32": "LLAMA_FTYPE_ALL_F32"}


def memory_bandwidth(megabytes: int = 1024, repeats: int = 5) -> float:
    """Bytes per second moved by the best of `repeats` rounds of large array copies (read + write counted), one per
    usable core at once: one thread alone does not saturate memory."""
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    from models.threads import usable_cores

    cores = usable_cores()
    pairs = [(np.ones(megabytes * 2**20 // 8 // cores), np.empty(megabytes * 2**20 // 8 // cores))
             for _ in range(cores)]
    with ThreadPoolExecutor(cores) as pool:  # numpy lets go of the GIL while it copies
        def copy_all() -> None:
            list(pool.map(lambda pair: np.copyto(pair[1], pair[0]), pairs))

        best = min(_timed(copy_all) for _ in range(repeats))
    return 2 * sum(source.nbytes for source, _ in pairs) / best


def _timed(function, *args) -> float:
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


def requantised(source: Path, name: str, work: Path) -> Path:
    """The shipped GGUF converted to format `name`, made once under `work`."""
    import llama_cpp

    target = work / f"smollm2-135m-{name}.gguf"
    if not target.is_file():
        work.mkdir(parents=True, exist_ok=True)
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype, params.allow_requantize, params.nthread = getattr(llama_cpp, FORMATS[name]), True, 2
        if llama_cpp.llama_model_quantize(str(source).encode(), str(target).encode(), ctypes.byref(params)) != 0:
            raise RuntimeError(f"llama_model_quantize failed for {name}")
    return target


def measure(spec: str, conversations, settings: SamplingSettings, threads: tuple[int, ...]) -> dict:
    """measure_backend on the model `spec` names, unloaded afterwards."""
    found = measure_backend(load_model(spec), conversations, settings, threads)
    unload_all()
    return found


def measure_backend(backend, conversations, settings: SamplingSettings, threads: tuple[int, ...]) -> dict:
    """Single-stream tok/s per thread count, then batched tok/s with every conversation at once, with the replies."""
    import os

    backend.complete(conversations[0], settings.with_(max_new_tokens=8))  # warm-up
    found: dict = {}
    for count in threads:
        os.environ["LLM_JUDGE_THREADS"] = str(count)  # models/threads.py reads it per call
        started = time.perf_counter()
        reply = backend.complete(conversations[1], settings)
        found[f"single_{count}_threads_tok_s"] = round(reply.n_tokens / (time.perf_counter() - started), 1)
        found.setdefault("single_reply", reply.text)
    os.environ.pop("LLM_JUDGE_THREADS", None)
    started = time.perf_counter()
    replies = backend.generate_batch(conversations, settings, batch_size=len(conversations))
    seconds = time.perf_counter() - started
    found[f"batch_{len(conversations)}_tok_s"] = round(sum(r.n_tokens for r in replies) / seconds, 1)
    found["batch_replies"] = [r.text for r in replies]
    found["batch_tokens"] = [r.n_tokens for r in replies]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--prompts", default="study", help="a prompt set; its first 16 prompts are used")
    parser.add_argument("--formats", default="q4_1,q4_0,q8_0,f16,f32")
    parser.add_argument("--work", default=str(cache_root() / "requantised"))
    parser.add_argument("--out")
    args = parser.parse_args()
    shipped = embedded_gguf_path(EMBEDDED_MODELS["smollm2-135m"])
    conversations = [[{"role": "user", "content": item.prompt}] for item in load_prompt_set(args.prompts)[:16]]
    settings = SamplingSettings(temperature=0.0, min_p=0.0, max_new_tokens=args.max_new_tokens, seed=0)
    bandwidth = memory_bandwidth()
    results: dict = {"memory_bandwidth_gb_s": round(bandwidth / 1e9, 1), "formats": {}}
    print(f"memory bandwidth (numpy copy): {bandwidth / 1e9:.1f} GB/s", flush=True)
    baseline = None
    for name in args.formats.split(","):
        path = shipped if name == "q4_1" else requantised(shipped, name, Path(args.work))
        found = measure(str(path), conversations, settings, threads=(1, 2))
        bound = bandwidth / path.stat().st_size
        baseline = baseline or found
        row = {key: value for key, value in found.items() if key.endswith("tok_s")}
        row.update(weight_mb=round(path.stat().st_size / 1e6, 1), memory_bound_tok_s=round(bound, 1),
                   single_share_of_bound=round(max(row["single_1_threads_tok_s"], row["single_2_threads_tok_s"])
                                               / bound, 2),
                   same_output_as_shipped=all(found[k] == baseline[k] for k in
                                              ("single_reply", "batch_replies")),
                   batch_tokens=found["batch_tokens"])
        results["formats"][name] = row
        print(name, row, flush=True)
    print(json.dumps(results, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
