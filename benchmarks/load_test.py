"""Many visitors at once: N gradio_client visitors send Compare requests to the real app at the same moment.

Launches `python app.py` (public mode by default, as a Space runs it) on a free port, warms the models up with one
request, then sends every visitor's request twice: one visitor at a time (the reference, and the sequential
latency), then all at once. Each visitor has its own prompt and seed. Reports latency percentiles for both phases,
the wall time, the peak memory (RSS) of the app process, and checks that every concurrent answer is the one that
visitor got alone (same seed, same backend = same answer: nothing mixed between visitors) and that each saved
record holds that visitor's prompt. Not a pass/fail test; tests/ui/test_many_visitors.py checks the answers.

Usage: python benchmarks/load_test.py [--visitors 16] [--max-new-tokens 32] [--model-a SPEC] [--model-b SPEC]
       [--judge SPEC] [--private] [--out FILE.json]   (the specs default to the app's default pair and judge)
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
from gradio_client import Client

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from runs.config import DEFAULT_JUDGE, DEFAULT_MODEL_A, DEFAULT_MODEL_B  # noqa: E402
from runs.prompt_sets import load_prompt_set  # noqa: E402


def visitor_requests(n: int, model_a: str, model_b: str, judge: str, max_new_tokens: int) -> list[dict]:
    """One Compare request per visitor: the general and study prompts in turn, each visitor its own seed."""
    prompts = [item.prompt for item in load_prompt_set("general") + load_prompt_set("study")]
    return [dict(model_a=model_a, model_b=model_b, judge=judge, prompt=prompts[i % len(prompts)], preset="p1",
                 temperature=0.5, min_p=0.05, top_p=1.0, max_new_tokens=max_new_tokens, seed=100 + i,
                 mode="single", template_text="", swap=True, judge_temperature=0.0) for i in range(n)]


def visit(url: str, request: dict) -> dict:
    """One visitor (its own session) sends one request; its answers, run folder and latency."""
    client = Client(url, verbose=False)
    started = time.perf_counter()
    answer_a, answer_b, verdict, _scores, _reasons, status = client.predict(**request, api_name="/compare")
    latency = time.perf_counter() - started
    folder = Path(status.split("Saved to `")[1].split("`")[0])
    record = json.loads((folder / "records.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    return dict(answers=(answer_a, answer_b), latency_s=latency, verdict=verdict,
                prompt_kept=record["prompt"] == request["prompt"],
                saved_answers_match=(record["answers"]["A"]["text"], record["answers"]["B"]["text"]) ==
                (answer_a, answer_b))


def visit_all(url: str, requests: list[dict], at_once: bool) -> tuple[list[dict], float]:
    """Every request, one after another or all at the same moment; (results in request order, wall seconds)."""
    started = time.perf_counter()
    if not at_once:
        return [visit(url, r) for r in requests], time.perf_counter() - started
    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        results = list(pool.map(lambda r: visit(url, r), requests))
    return results, time.perf_counter() - started


def percentiles(values: list[float]) -> dict:
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]  # noqa: E731
    return {"p50": round(statistics.median(ordered), 2), "p90": round(pick(0.9), 2), "max": round(ordered[-1], 2)}


class PeakMemory:
    """The highest resident memory of a process and its children, sampled every 0.2 s."""

    def __init__(self, pid: int):
        self.process, self.peak, self._stop = psutil.Process(pid), 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while not self._stop.is_set():
            try:
                rss = self.process.memory_info().rss + sum(c.memory_info().rss for c in self.process.children(True))
                self.peak = max(self.peak, rss)
            except psutil.Error:
                pass
            self._stop.wait(0.2)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def launch_app(public: bool, results: Path) -> tuple[subprocess.Popen, str]:
    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1", "LLM_JUDGE_PRELOAD": "0",
           "LLM_JUDGE_RESULTS": str(results), "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen([sys.executable, "app.py", *(["--public"] if public else [])], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(240):
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit("the app did not start in 2 minutes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--model-a", default=DEFAULT_MODEL_A)
    parser.add_argument("--model-b", default=DEFAULT_MODEL_B)
    parser.add_argument("--judge", default=DEFAULT_JUDGE)
    parser.add_argument("--private", action="store_true", help="launch without public mode")
    parser.add_argument("--out", help="also write the report as JSON here")
    args = parser.parse_args()
    requests = visitor_requests(args.visitors, args.model_a, args.model_b, args.judge, args.max_new_tokens)
    with tempfile.TemporaryDirectory(prefix="load-test-") as tmp:
        process, url = launch_app(not args.private, Path(tmp))
        try:
            with PeakMemory(process.pid) as memory:
                started = time.perf_counter()
                visit(url, requests[0])  # loads the models once
                warm_up = time.perf_counter() - started
                alone, alone_wall = visit_all(url, requests, at_once=False)
                together, together_wall = visit_all(url, requests, at_once=True)
        finally:
            process.terminate()
            process.wait(timeout=60)
    mixed = [i for i, (a, b) in enumerate(zip(alone, together)) if a["answers"] != b["answers"]]
    report = {
        "visitors": args.visitors, "models": [args.model_a, args.model_b, args.judge],
        "max_new_tokens": args.max_new_tokens, "public_mode": not args.private, "cpus": os.cpu_count(),
        "warm_up_s": round(warm_up, 1),
        "one_at_a_time": {"wall_s": round(alone_wall, 1), "latency_s": percentiles([r["latency_s"] for r in alone])},
        "all_at_once": {"wall_s": round(together_wall, 1),
                        "latency_s": percentiles([r["latency_s"] for r in together])},
        "completed": sum(1 for r in together if r["answers"][0] and r["verdict"]),
        "answers_differ_from_the_visitor_alone": mixed,
        "records_hold_their_visitors_prompt": all(r["prompt_kept"] and r["saved_answers_match"] for r in together),
        "peak_rss_gb": round(memory.peak / 2**30, 2),
    }
    print(json.dumps(report, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
