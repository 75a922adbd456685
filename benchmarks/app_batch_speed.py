"""The study's deliverable through the app: its Batch tab's API (`/batch`) on the first --prompts study prompts, at
preset p2 with answers of up to --max-new-tokens tokens, the default models and judge, an empty results folder.

The app's server steps a handler in whichever of its worker threads is free; this measures what that costs against
the CLI's one thread (benchmarks/study_speed.py, runs/one_thread.py). The app is `python app.py` in a process of its
own, as benchmarks/load_test.py starts it; the client is gradio_client over 127.0.0.1. Reports the wall time of the
call, the stage times from the run's records (answers A and B, judge) and the answer tokens/s. Not a pass/fail test.

Usage: python benchmarks/app_batch_speed.py [--prompts 10] [--max-new-tokens 256] [--out FILE.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from benchmarks.load_test import launch_app  # noqa: E402
from runs.config import DEFAULT_JUDGE, DEFAULT_MODEL_A, DEFAULT_MODEL_B  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=10)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--out")
    args = parser.parse_args()
    from gradio_client import Client

    results = Path(tempfile.mkdtemp(prefix="app-batch-speed-"))  # empty: a first run, no caches
    process, url = launch_app(public=False, results=results)
    try:
        client = Client(url, verbose=False)
        started = time.perf_counter()
        client.predict("study", DEFAULT_MODEL_A, DEFAULT_MODEL_B, DEFAULT_JUDGE, ["p2"], args.max_new_tokens, "single",
                       args.prompts, api_name="/batch")
        wall = time.perf_counter() - started
    finally:
        process.terminate()
        process.wait()
    (folder,) = [p for p in results.iterdir() if (p / "records.jsonl").exists()]
    records = [json.loads(line) for line in (folder / "records.jsonl").read_text(encoding="utf-8").splitlines()]
    stages = {stage: round(sum(r["timings"][stage] for r in records), 1) for stage in ("answer_a", "answer_b", "judge")}
    tokens = {"answer_a": sum(r["answers"]["A"]["n_tokens"] for r in records),
              "answer_b": sum(r["answers"]["B"]["n_tokens"] for r in records)}
    report = {"wall_s": round(wall, 1), "records": len(records),
              "scored": sum(1 for r in records if r.get("status") == "ok"), "stage_s": stages,
              "answer_tokens_per_s": {k: round(tokens[k] / stages[k], 1) for k in tokens}, "answer_tokens": tokens}
    print(json.dumps(report, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
