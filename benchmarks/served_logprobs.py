"""How long a served judge's reply with token probabilities takes on the project's llama.cpp server.

A judge read through an OpenAI-compatible server (`openai:MODEL@URL`, the probabilities method) asks for its reply
with `logprobs` and `top_logprobs`; llama-cpp-python then computes every token's log probabilities and ranks the
vocabulary for each token of the reply. This starts `python -m models.llamacpp_server` on the embedded model (one
thread, as tests/servers.py starts it), sends the same judge-length request --requests times (each with another
first word, so no request reuses the last one's prompt) and reports the seconds per request. To compare two
checkouts, run each one's copy of this script in turn. Not a pass/fail test.

Usage: python benchmarks/served_logprobs.py [--requests 4] [--prompt-words 800] [--max-tokens 48] [--out FILE.json]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from servers import LLAMA_ALIAS, llama_cpp_server  # noqa: E402


def timed_request(url: str, body: dict) -> tuple[float, dict]:
    request = urllib.request.Request(url + "/chat/completions", data=json.dumps(body).encode("utf-8"),
                                     headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=600) as reply:
        found = json.load(reply)
    return time.perf_counter() - started, found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4)
    parser.add_argument("--prompt-words", type=int, default=800, help="about a pairwise judge prompt's length")
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)

    text = "Rate the answer on relevance, coherence and completeness.\n" + " ".join(
        ("The answer explains the topic in some detail.".split() * (args.prompt_words // 8 + 1))[: args.prompt_words])
    seconds, usage = [], {}
    with tempfile.TemporaryDirectory() as logs, llama_cpp_server(log_dir=Path(logs)) as url:
        for i in range(args.requests):
            body = {"model": LLAMA_ALIAS, "messages": [{"role": "user", "content": f"Request {i}. {text}"}],
                    "max_tokens": args.max_tokens, "temperature": 0, "logprobs": True, "top_logprobs": 5}
            took, found = timed_request(url, body)
            seconds.append(round(took, 2))
            usage = found["usage"]
            print(f"request {i + 1}: {took:.2f} s", flush=True)
    report = {"checkout": str(ROOT), "prompt_tokens": usage.get("prompt_tokens"),
              "reply_tokens": usage.get("completion_tokens"), "seconds": seconds,
              "median_s": round(statistics.median(seconds), 2)}
    print(json.dumps(report, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
