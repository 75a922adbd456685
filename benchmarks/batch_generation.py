"""Batched against one-at-a-time greedy generation for the ten study prompts.

Measures, in one process with the models already loaded and warmed up: the wall time and tokens/s of
TransformersBackend.generate_batch ("smollm2-135m", one left-padded generate() per chunk of --batch-size)
against a loop of complete() over the same prompts, and the llama.cpp backend ("smollm2-135m-gguf") one prompt
at a time (its generate_batch is that loop). Tokens are counted the same way for every row (count_tokens of the
reply text). It also reports how many batched replies equal their one-at-a-time twins: left padding changes
the shapes of the float computations, which could flip a near-tie between two tokens. The machine's load
average is printed before and after, since a busy shared CPU skews every number here.

Usage: python benchmarks/batch_generation.py [--max-new-tokens 64] [--batch-size 10] [--threads 1] [--repeats 1]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models import SamplingSettings, load_model  # noqa: E402
from runs.prompt_sets import load_prompt_set  # noqa: E402

WARM_UP = SamplingSettings(temperature=0.0, min_p=0.0, max_new_tokens=4)


def timed_rounds(runs: dict, repeats: int) -> dict[str, tuple[float, list]]:
    """Median wall time of each of `runs` and its last result, timed in interleaved rounds (a, b, c, a, b, c...)
    so that a burst of load from other processes does not land on one measurement only."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    results: dict[str, list] = {}
    for _ in range(repeats):
        for name, run in runs.items():
            started = time.perf_counter()
            results[name] = run()
            times[name].append(time.perf_counter() - started)
    return {name: (statistics.median(times[name]), results[name]) for name in runs}


def first_difference(a: list[int], b: list[int]) -> int | None:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1,
                        help="compute threads for both backends; 1 stays steady on a shared CPU, where spinning "
                             "threads stall behind other processes (more suits a whole idle machine)")
    parser.add_argument("--repeats", type=int, default=1, help="interleaved timed rounds; the median is shown")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    os.environ["LLM_JUDGE_THREADS"] = str(args.threads)
    conversations = [[{"role": "user", "content": item.prompt}] for item in load_prompt_set("study")]
    greedy = SamplingSettings(temperature=0.0, min_p=0.0, max_new_tokens=args.max_new_tokens)
    load_before = os.getloadavg()

    hf = load_model("smollm2-135m")
    gguf = load_model("smollm2-135m-gguf")
    for backend in (hf, gguf):
        backend.complete(conversations[0], WARM_UP)
    hf.generate_batch(conversations[:2], WARM_UP)

    measured = timed_rounds({
        f"transformers generate_batch (batch {args.batch_size})":
            lambda: hf.generate_batch(conversations, greedy, batch_size=args.batch_size),
        "transformers complete() loop": lambda: [hf.complete(m, greedy) for m in conversations],
        "llama.cpp complete() loop": lambda: [gguf.complete(m, greedy) for m in conversations],
    }, args.repeats)
    (_, batched), (_, looped), _ = measured.values()
    rows = []
    for (label, (seconds, generations)), backend in zip(measured.items(), (hf, hf, gguf)):
        tokens = sum(backend.count_tokens(g.text) for g in generations)
        rows.append((label, seconds, tokens, tokens / seconds))
    load_after = os.getloadavg()

    print(f"{len(conversations)} study prompts, greedy, max_new_tokens {args.max_new_tokens}, "
          f"{args.threads} thread(s), median of {args.repeats}")
    print(f"{'':44} {'wall s':>8} {'tokens':>7} {'tok/s':>7} {'vs loop':>8}")
    for label, seconds, tokens, rate in rows:
        print(f"{label:44} {seconds:8.2f} {tokens:7d} {rate:7.1f} {rate / rows[1][3]:7.2f}x")

    same = [a.text == b.text for a, b in zip(batched, looped)]
    print(f"batched replies equal to one-at-a-time: {sum(same)}/{len(same)}")
    for i, equal in enumerate(same):
        if not equal:
            a = hf.tokenizer(batched[i].text, add_special_tokens=False)["input_ids"]
            b = hf.tokenizer(looped[i].text, add_special_tokens=False)["input_ids"]
            print(f"  prompt {i + 1}: first differing token at position {first_difference(a, b)}")
    print(f"load average (1 min) before {load_before[0]:.2f}, after {load_after[0]:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
