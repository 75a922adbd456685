"""The study's deliverable, timed two ways in one run: the naive way the original Space works, and this product.

The deliverable: the ten study prompts, two answers of up to 256 tokens at preset p2, each answer judged on the
three criteria. The naive way (as the original Space does it): llama.cpp with the library's default settings,
Model A and Model B loaded afresh for every prompt, and a free-text judge (the embedded model, loaded afresh too,
asked for three scores and parsed leniently). The product: `python -m judge compare --prompts study --preset p2
--max-new-tokens 256` with its defaults, in a fresh process, so its loads count.

Reports wall time, answer tokens/s per backend and the share of time per stage (load, answer A, answer B, judge,
save and the rest), the product process's peak memory, and whether every record is scored. The yardstick is the
generation-only bound (generation_bound below): the product's answer tokens at the best batched tokens/s the default
models reach here, measured in the same run; the goal is a first run within 1.3x of it. Both use the same
seed. The product runs with an empty results folder, so no cache (judge calls, judge features) from an earlier run
helps it: a first run. `--rerun` also times the same command again with the caches the first run left (a rerun).

`--memory` loads the default models one by one in a fresh process and reports what each adds to its resident
memory, and whether loading a spec again gives the same instance (no model loaded twice). `--overlap` times the
product twice with the prompts in chunks of --chunk: the next chunk's answers generated while a chunk is judged,
and each chunk's answers only after the previous chunk is judged (what the pipeline does where every stage computes
on this CPU: runs/pipeline.py answers_overlap_judging). Not a pass/fail test.

Usage: python benchmarks/study_speed.py [--prompts 10] [--max-new-tokens 256] [--out FILE.json] [--product-only]
       [--rerun] [--memory] [--overlap [--chunk 5]] [-- extra flags for python -m judge compare]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from benchmarks.load_test import PeakMemory  # noqa: E402
from models import PRESETS  # noqa: E402
from models.embedded import EMBEDDED_MODELS, embedded_gguf_path  # noqa: E402
from models.llamacpp_buffers import llama_weight_buffers  # noqa: E402
from runs.prompt_sets import load_prompt_set  # noqa: E402

NAIVE_JUDGE_PROMPT = (
    "Rate the answer to the instruction on relevance, coherence and completeness, each from 1 to 4.\n"
    "Instruction: {prompt}\nAnswer: {answer}\n"
    "Reply exactly as:\nRelevance: <1-4>\nCoherence: <1-4>\nCompleteness: <1-4>"
)
CRITERIA = ("relevance", "coherence", "completeness")


def naive(prompts: list[str], max_new_tokens: int, seed: int) -> dict:
    """Every model loaded per prompt, one generation at a time, a free-text judge per answer."""
    from llama_cpp import Llama

    path = str(embedded_gguf_path(EMBEDDED_MODELS["smollm2-135m"]))
    p2 = PRESETS["p2"]
    stages = dict(load=0.0, answer_a=0.0, answer_b=0.0, judge=0.0)
    tokens, scored = dict(answer_a=0, answer_b=0), 0
    started = time.perf_counter()

    def loaded():
        t = time.perf_counter()
        with llama_weight_buffers():  # plain CPU buffers as the app loads them (AMX ones crash some CPUs)
            llm = Llama(model_path=path, n_ctx=2048, verbose=False)  # the library's defaults otherwise
        stages["load"] += time.perf_counter() - t
        return llm

    def chat(llm, content, **settings):
        reply = llm.create_chat_completion(messages=[{"role": "user", "content": content}], **settings)
        return reply["choices"][0]["message"]["content"], reply["usage"]["completion_tokens"]

    for prompt in prompts:
        answers = []
        for side in ("answer_a", "answer_b"):
            llm = loaded()
            t = time.perf_counter()
            text, n = chat(llm, prompt, max_tokens=max_new_tokens, temperature=p2.temperature, min_p=p2.min_p,
                           top_p=1.0, top_k=0, seed=seed)
            stages[side] += time.perf_counter() - t
            tokens[side] += n
            answers.append(text)
            del llm
        judge = loaded()
        t = time.perf_counter()
        for answer in answers:
            reply, _ = chat(judge, NAIVE_JUDGE_PROMPT.format(prompt=prompt, answer=answer), max_tokens=64,
                            temperature=0.0)
            found = {c: re.search(rf"{c}\W*([1-4])", reply, re.I) for c in CRITERIA}
            scored += all(found.values())
        stages["judge"] += time.perf_counter() - t
        del judge
    wall = time.perf_counter() - started
    return report(wall, stages, tokens, answers_scored=scored, answers=2 * len(prompts))


def product(n_prompts: int, max_new_tokens: int, seed: int, extra: list[str], out: Path, results: Path,
            entry: list[str] | None = None) -> dict:
    """The product's CLI with its defaults, in a fresh process whose results folder (and so its caches) is `results`;
    stage times from its records and manifest. `entry` replaces `-m judge` (the overlap's child, below)."""
    prompts_file = out / "study_subset.jsonl"
    items = load_prompt_set("study")[:n_prompts]
    prompts_file.write_text("".join(json.dumps(i.to_dict()) + "\n" for i in items), encoding="utf-8")
    command = [sys.executable, *(entry or ["-m", "judge"]), "compare", "--prompts", str(prompts_file), "--preset",
               "p2", "--max-new-tokens", str(max_new_tokens), "--seed", str(seed), "--out", str(out), *extra]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "LLM_JUDGE_RESULTS": str(results)})
    with PeakMemory(process.pid) as memory:
        stdout, stderr = process.communicate()
    wall = time.perf_counter() - started
    result = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    if result.returncode:
        raise SystemExit(f"the product's run failed:\n{result.stderr[-3000:]}")
    folder = Path(result.stdout.strip().splitlines()[-1])
    manifest = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    records = [json.loads(line) for line in (folder / "records.jsonl").read_text(encoding="utf-8").splitlines()]
    loads = {role: (m or {}).get("load_seconds", 0.0) for role, m in manifest["models"].items()
             if isinstance(m, dict)}
    stages = dict(load=sum(loads.values()),
                  answer_a=sum(r["timings"]["answer_a"] for r in records),
                  answer_b=sum(r["timings"]["answer_b"] for r in records),
                  judge=sum(r["timings"]["judge"] for r in records))
    tokens = dict(answer_a=sum(r["answers"]["A"]["n_tokens"] for r in records),
                  answer_b=sum(r["answers"]["B"]["n_tokens"] for r in records))
    scored = sum(1 for r in records for side in ("A", "B") if r.get("status") == "ok" and r["scores"].get(side))
    backends = {role: m.get("backend") for role, m in manifest["models"].items() if isinstance(m, dict)}
    return report(wall, stages, tokens, answers_scored=scored, answers=2 * len(records), backends=backends,
                  load_s_by_role={role: round(seconds, 1) for role, seconds in loads.items()},
                  peak_rss_gb=round(memory.peak / 2**30, 2), command=" ".join(command[1:]), run_dir=str(folder))


def report(wall: float, stages: dict, tokens: dict, **extra) -> dict:
    # What the stages do not account for: process start, imports, checks, saving, summary.
    stages = {**stages, "save_and_other": max(0.0, wall - sum(stages.values()))}
    return {"wall_s": round(wall, 1),
            "stage_s": {k: round(v, 1) for k, v in stages.items()},
            "stage_share": {k: f"{100 * v / wall:.0f}%" for k, v in stages.items()},
            "answer_tokens_per_s": {k: round(tokens[k] / stages[k], 1) if stages[k] else None for k in tokens},
            "answer_tokens": tokens, **extra}


def memory_by_model() -> dict:
    """In this (fresh) process: resident memory after the libraries, then what loading each default model adds, then
    whether loading each spec again gives the instance already loaded (and adds nothing)."""
    import llama_cpp  # noqa: F401  the libraries first, so a model's figure is the model's
    import psutil
    import torch  # noqa: F401
    import transformers  # noqa: F401

    from models import load_model
    from runs.config import DEFAULT_JUDGE, DEFAULT_MODEL_A, DEFAULT_MODEL_B

    def rss() -> float:
        return psutil.Process().memory_info().rss / 2**30

    found: dict = {"libraries_gb": round(rss(), 2), "models": {}}
    loaded = {}
    for role, spec in (("model_a", DEFAULT_MODEL_A), ("model_b", DEFAULT_MODEL_B), ("judge", DEFAULT_JUDGE)):
        before = rss()
        loaded[spec] = load_model(spec)
        found["models"][role] = {"spec": spec, "backend": loaded[spec].name, "added_gb": round(rss() - before, 2)}
    before = rss()
    found["same_instance_when_loaded_again"] = all(load_model(spec) is backend for spec, backend in loaded.items())
    found["added_by_loading_again_gb"] = round(rss() - before, 2)
    found["judge_base_is_model_a"] = getattr(loaded[DEFAULT_JUDGE], "base", None) is loaded[DEFAULT_MODEL_A]
    found["total_gb"] = round(rss(), 2)
    return found


def run_with_overlap(argv: list[str], chunk: int, overlap: bool) -> int:
    """The product's CLI in this process with prompt sets answered in chunks of `chunk`, each chunk's answers
    generated while the previous chunk is judged (`overlap`) or only after it, whatever the pipeline would choose."""
    import runs.pipeline as pipeline
    from runs.cli import main as cli_main

    pipeline.BATCH_SIZE = chunk
    pipeline.answers_overlap_judging = lambda backends: overlap
    return cli_main(argv)


def overlap_effect(args, extra: list[str], tmp: Path) -> dict:
    """The product with and without its overlap, prompts in chunks of --chunk, each in a fresh process and caches."""
    found = {"chunk": args.chunk}
    for name, flag in (("with_overlap", "--child-overlap"), ("without_overlap", "--child-no-overlap")):
        entry = [str(Path(__file__).resolve()), flag, "--chunk", str(args.chunk), "--"]
        folder = tmp / name
        folder.mkdir()
        found[name] = product(args.prompts, args.max_new_tokens, args.seed, extra, folder, folder / "results", entry)
    found["saved_s"] = round(found["without_overlap"]["wall_s"] - found["with_overlap"]["wall_s"], 1)
    return found


def generation_bound(prompts: list[str], max_new_tokens: int, seed: int, product: dict) -> dict:
    """The generation-only bound: the product's answer tokens divided by the best batched tokens/s the default models
    reach here, measured now on the same prompts and settings (loaded once, warmed up, no judge, nothing saved), and
    the product's first-run wall time over it: how close the deliverable is to what generating its answers costs."""
    from models import load_model
    from runs.config import BATCH_SIZE, default_model_pair

    settings = PRESETS["p2"].with_(max_new_tokens=max_new_tokens, seed=seed)
    conversations = [[{"role": "user", "content": p}] for p in prompts]
    rates = {}
    for side, spec in zip(("answer_a", "answer_b"), default_model_pair()):
        backend = load_model(spec)
        backend.generate_batch(conversations[:2], settings.with_(max_new_tokens=8), batch_size=BATCH_SIZE)  # warm-up
        started = time.perf_counter()
        made = backend.generate_batch(conversations, settings, batch_size=BATCH_SIZE)
        measured = sum(g.n_tokens for g in made) / (time.perf_counter() - started)
        rates[side] = max(measured, product["answer_tokens_per_s"][side] or 0.0)  # the best seen in this run
    bound = sum(product["answer_tokens"][side] / rates[side] for side in rates)
    return {"batched_tok_s": {side: round(r, 1) for side, r in rates.items()}, "bound_s": round(bound, 1),
            "wall_over_bound": round(product["wall_s"] / bound, 2), "goal": 1.3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=10)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--product-only", action="store_true")
    parser.add_argument("--rerun", action="store_true", help="also time the product again, its caches warm")
    parser.add_argument("--memory", action="store_true", help="also report the memory each default model takes")
    parser.add_argument("--overlap", action="store_true", help="also time the product with and without the overlap")
    parser.add_argument("--chunk", type=int, default=5, help="prompts per batch for --overlap")
    parser.add_argument("--child-overlap", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-no-overlap", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-memory", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help="also write the report as JSON here")
    args, extra = parser.parse_known_args()
    extra = [a for a in extra if a != "--"]
    if args.child_overlap or args.child_no_overlap:
        raise SystemExit(run_with_overlap(extra, args.chunk, overlap=args.child_overlap))
    if args.child_memory:
        print(json.dumps(memory_by_model()))
        return
    prompts = [item.prompt for item in load_prompt_set("study")[: args.prompts]]
    results = {"prompts": len(prompts), "max_new_tokens": args.max_new_tokens, "preset": "p2"}
    with tempfile.TemporaryDirectory(prefix="study-speed-") as tmp:
        tmp = Path(tmp)
        results["product"] = product(args.prompts, args.max_new_tokens, args.seed, extra, tmp, tmp / "results")
        if args.rerun:
            results["product_rerun"] = product(args.prompts, args.max_new_tokens, args.seed, extra, tmp,
                                               tmp / "results")
        if not args.product_only:
            results["naive"] = naive(prompts, args.max_new_tokens, args.seed)
            results["speedup"] = round(results["naive"]["wall_s"] / results["product"]["wall_s"], 2)
        results["generation_bound"] = generation_bound(prompts, args.max_new_tokens, args.seed, results["product"])
        if args.overlap:
            results["overlap"] = overlap_effect(args, extra, tmp)
        if args.memory:
            child = subprocess.run([sys.executable, __file__, "--child-memory"], capture_output=True, text=True,
                                   check=True, cwd=ROOT)
            results["memory"] = json.loads(child.stdout.strip().splitlines()[-1])
    print(json.dumps(results, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
