"""How fast the default scoring judge reads an answer pair, by engine and features version, on AlpacaEval-length pairs
(issue 20, item 1). Not a pass/fail test.

The judge (`smollm2-135m-judge`, models/reward_head.py) reads each answer with its base model: the last hidden layer
and every token's log probability after the prompt, and the answer's likelihood with no prompt (the mutual-information
signal). Ways timed, each on the same pairs, from no cache, in rotating order so a busy moment hits every way alike:
- `transformers v2`: the way before issue 20: float32 transformers, a padded batch per pass, a second full pass
  without the prompt;
- `llama.cpp v2`: the same features (the same float32 weights, as a GGUF) from one llama.cpp decode per pass, the
  answers' shared prompt decoded once (models/llamacpp_reading.py);
- `llama.cpp v3` / `transformers v3`: features version 3, the pass without the prompt cut to the answer's first
  PMI_TOKENS tokens;
- `transformers v3 int8`: version 3 read by a copy of the model whose linear layers compute in int8 (torch's dynamic
  quantisation, models/feature_readers.int8_reader): other features, so a head must be fit on them;
- `transformers v3 bf16`: version 3 read under CPU autocast to bfloat16 (models/feature_readers.bfloat16_reader): fast
  only where the CPU multiplies bfloat16 natively (AMX), other features again.
It also reports how far the llama.cpp features are from the transformers ones (the head's weights read both), the
answer tokens per pair, and the cores free of other work when it started (models/threads.py).

Data: ../shared/data/alpaca_eval_gpt4_turbo_pairs_length_balanced.jsonl (not in the repo), pairs whose answers are
both 1,000-1,500 characters; `--pairs` of them, drawn with a fixed seed.

Usage: python benchmarks/judge_reading.py [--pairs 6] [--out results/benchmarks/judge_reading.json]
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "alpaca_eval_gpt4_turbo_pairs_length_balanced.jsonl"
WAYS = {"transformers v2": ("smollm2-135m", 2), "llama.cpp v2": ("smollm2-135m-f32-gguf", 2),
        "llama.cpp v3": ("smollm2-135m-f32-gguf", 3), "transformers v3": ("smollm2-135m", 3),
        "transformers v3 int8": ("smollm2-135m int8", 3), "transformers v3 bf16": ("smollm2-135m bf16", 3)}


def alpaca_length_pairs(n: int, seed: int = 0) -> list[dict]:
    rows = [json.loads(line) for line in DATA.open(encoding="utf-8")]
    fitting = [r for r in rows if all(1000 <= len(r[k]) <= 1500 for k in ("answer_a", "answer_b"))]
    return random.Random(seed).sample(fitting, min(n, len(fitting)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--ways", default=",".join(WAYS), help="comma-separated, of: " + ", ".join(WAYS))
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "benchmarks" / "judge_reading.json")
    args = parser.parse_args(argv)

    from models import load_model
    from models.feature_readers import bfloat16_reader, int8_reader
    from models.reward_head import model_features
    from models.threads import free_cores, usable_cores

    ways = [w.strip() for w in args.ways.split(",")]
    pairs = alpaca_length_pairs(args.pairs)
    backends = {}
    readers = {" int8": int8_reader, " bf16": bfloat16_reader}
    for spec, _ in (WAYS[w] for w in ways):  # "X int8": X read by the int8 copy a head fit on int8 features uses
        if spec not in backends:
            suffix = next((s for s in readers if spec.endswith(s)), "")
            base = load_model(spec.removesuffix(suffix))
            backends[spec] = readers[suffix](base) if suffix else base
    warm = pairs[0]
    for spec, version in (WAYS[w] for w in ways):  # first calls build contexts and caches: not timed
        model_features(backends[spec], warm["prompt"], [warm["answer_a"][:200]], version=version)
    report = {"cores": usable_cores(), "free_cores_at_start": free_cores(), "pairs": len(pairs), "ways": {}}
    seconds = {w: [] for w in ways}
    found = {w: [] for w in ways}
    tokens = []
    for i, pair in enumerate(pairs):
        answers = [pair["answer_a"], pair["answer_b"]]
        tokens.append(sum(backends[WAYS[ways[0]][0]].count_tokens(a) for a in answers))
        for way in ways[i % len(ways):] + ways[: i % len(ways)]:
            spec, version = WAYS[way]
            started = time.perf_counter()
            found[way].append(model_features(backends[spec], pair["prompt"], answers, version=version))
            seconds[way].append(time.perf_counter() - started)
        print(f"pair {i + 1}: " + ", ".join(f"{w} {seconds[w][-1]:.2f} s" for w in ways), flush=True)
    baseline = statistics.median(seconds[ways[0]])
    for way in ways:
        median = statistics.median(seconds[way])
        report["ways"][way] = {"median_s_per_pair": round(median, 3), "s_per_pair": [round(s, 3) for s in seconds[way]],
                               f"speedup_vs_{ways[0]}": round(baseline / median, 2)}
        print(f"{way}: {median:.2f} s a pair (median), {baseline / median:.2f}x {ways[0]}", flush=True)
    report["answer_tokens_per_pair"] = {"median": statistics.median(tokens), "min": min(tokens), "max": max(tokens)}
    for a, b in (("transformers v2", "llama.cpp v2"), ("transformers v3", "llama.cpp v3"),
                 ("transformers v3", "transformers v3 bf16")):
        if a in found and b in found:  # the same features by two engines: how far apart
            diff = max(float(np.abs(x - y).max()) for x, y in zip(found[a], found[b]))
            report[f"max_feature_difference {a} / {b}"] = round(diff, 4)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(json.dumps({k: v for k, v in report.items() if k != "ways"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
