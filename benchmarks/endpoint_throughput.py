"""Throughput of prompt-set runs against a real local OpenAI-compatible server, at several concurrency levels.

Starts each server on 127.0.0.1 serving the embedded model (tests/servers.py): llama-cpp-python's server (which
evaluates one request at a time) and `transformers serve --continuous-batching` (which batches requests in flight).
For each concurrency level it runs the same compare (Model A, Model B and the judge all on that server, the judge
cache off) over the first N study prompts and reports records per minute and answer tokens per second (tokens as
the server's usage reports them, else its stream chunks), timed from the run's start (the models are loaded by a
warm-up run first) to its last record. Not a pass/fail test: the figures depend on the machine.

Usage: python benchmarks/endpoint_throughput.py [--prompts 8] [--max-new-tokens 48] [--levels 1,4,8]
       [--servers llama,transformers] [--threads 2]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from servers import LLAMA_ALIAS, free_port, llama_cpp_server, transformers_server  # noqa: E402

from models import unload_all  # noqa: E402
from runs.config import CompareConfig  # noqa: E402
from runs.pipeline import run_compare  # noqa: E402
from runs.prompt_sets import load_prompt_set  # noqa: E402


def measure(spec: str, items, max_new_tokens: int, concurrency: int, out: Path) -> dict:
    config = CompareConfig(model_a=spec, model_b=spec, judge=spec, concurrency=concurrency, judge_cache=False,
                           out_dir=str(out), judge_method="parsed")
    config.sampling = config.sampling.with_(max_new_tokens=max_new_tokens, seed=1)
    records, started = [], time.perf_counter()  # the models are loaded already (the warm-up), so this is run time
    for update in run_compare(config, items, label=f"throughput-{concurrency}"):
        if update.stage == "record":
            records.append(update.record)
    seconds = time.perf_counter() - started
    tokens = sum((r["answers"][s]["n_tokens"] or 0) for r in records for s in ("A", "B"))
    failed = sum(r["status"] == "failed" for r in records)
    return {"concurrency": concurrency, "records": len(records), "failed": failed,
            "seconds": round(seconds, 2), "records_per_minute": round(60 * len(records) / seconds, 2),
            "answer_tokens_per_second": round(tokens / seconds, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--levels", default="1,4,8")
    parser.add_argument("--servers", default="llama,transformers")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    items = load_prompt_set("study")[: args.prompts]
    levels = [int(level) for level in args.levels.split(",")]
    print(f"cpu count {os.cpu_count()}, load average {os.getloadavg()}", flush=True)
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        for server in args.servers.split(","):
            if server == "llama":
                context = llama_cpp_server(port=free_port(), threads=args.threads, log_dir=Path(scratch))
            else:
                context = transformers_server(port=free_port(), log_dir=Path(scratch), continuous_batching=True)
            with context as served:
                url, model = (served, LLAMA_ALIAS) if server == "llama" else served
                spec = f"openai:{model}@{url}"
                measure(spec, items[:1], 8, 1, Path(scratch))  # warm-up: the server loads its model
                for level in levels:
                    row = {"server": server, **measure(spec, items, args.max_new_tokens, level, Path(scratch))}
                    results.append(row)
                    print(json.dumps(row), flush=True)
            unload_all()
    for server in args.servers.split(","):
        rows = [r for r in results if r["server"] == server]
        base = rows[0]["records_per_minute"]
        print(server + ": " + ", ".join(f"x{r['records_per_minute'] / base:.2f} at {r['concurrency']}" for r in rows))
    print(f"load average after {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
