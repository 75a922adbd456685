"""Threads on a busy machine: the same compare with a CPU-bound neighbour process running, with the automatic thread
count and with each fixed count, so the automatic one can be read against the best fixed one (issue 20, item 2).

The neighbour is what a laptop has: another process keeping the cores busy (by default a torch matrix-multiply loop on
two threads; `--neighbour spin` is one pure-Python busy loop). Each compare runs in a fresh process with an empty
results folder: `python -m judge compare --prompts study --limit N --max-new-tokens M --preset p1` with the default
models. A quiet run (no neighbour, automatic threads) is the baseline. Not a pass/fail test.

Usage: python benchmarks/busy_neighbour.py [--limit 3] [--max-new-tokens 64] [--neighbour torch|spin]
       [--threads auto,1,2] [--out FILE.json]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NEIGHBOURS = {
    "torch": "import torch\ntorch.set_num_threads(2)\na = torch.rand(1024, 1024)\nwhile True:\n    a @ a\n",
    "spin": "while True:\n    pass\n",
}


def compare_seconds(limit: int, max_new_tokens: int, threads: str) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("LLM_JUDGE_THREADS", None)
    if threads != "auto":
        env["LLM_JUDGE_THREADS"] = threads
    with tempfile.TemporaryDirectory() as out:
        env["LLM_JUDGE_RESULTS"] = out  # an empty results folder: no judge cache from an earlier run
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "judge", "compare", "--prompts", "study", "--limit",
                                 str(limit), "--max-new-tokens", str(max_new_tokens), "--preset", "p1", "--out", out],
                                cwd=ROOT, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        records = [json.loads(line) for f in Path(out).glob("*/records.jsonl") for line in f.read_text().splitlines()]
    busy = [w for r in records for w in r.get("warnings") or [] if "busy with other work" in w]
    return {"threads": threads, "seconds": round(seconds, 1), "exit": result.returncode, "records": len(records),
            "said_busy": bool(busy), **({"stderr": result.stderr[-500:]} if result.returncode else {})}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--neighbour", choices=sorted(NEIGHBOURS), default="torch")
    parser.add_argument("--threads", default="auto,1,2", help="counts to time with the neighbour running")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    report = {"cores": len(os.sched_getaffinity(0)), "neighbour": args.neighbour,
              "quiet": compare_seconds(args.limit, args.max_new_tokens, "auto")}
    print(f"quiet, automatic threads: {report['quiet']['seconds']} s", flush=True)
    neighbour = subprocess.Popen([sys.executable, "-c", NEIGHBOURS[args.neighbour]], cwd=ROOT)
    try:
        time.sleep(3)  # the neighbour is up and busy before anything is timed
        report["busy"] = []
        for threads in args.threads.split(","):
            timing = compare_seconds(args.limit, args.max_new_tokens, threads.strip())
            report["busy"].append(timing)
            print(f"busy, threads {timing['threads']}: {timing['seconds']} s (said busy: {timing['said_busy']})",
                  flush=True)
    finally:
        neighbour.kill()
        neighbour.wait()
    fixed = [t["seconds"] for t in report["busy"] if t["threads"] != "auto"]
    auto = [t["seconds"] for t in report["busy"] if t["threads"] == "auto"]
    if fixed and auto:
        report["auto_over_best_fixed"] = round(auto[0] / min(fixed), 2)
        print(f"automatic / best fixed count with the neighbour: {report['auto_over_best_fixed']}x")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
