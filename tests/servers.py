"""Real OpenAI-compatible servers on 127.0.0.1 serving the embedded model, for the endpoint tests and benchmarks:
llama-cpp-python's own server (accepts min_p, returns logprobs, takes GBNF grammars) and `transformers serve`
(refuses min_p with 422, returns no logprobs). Each runs as a subprocess and is stopped on exit."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

LLAMA_ALIAS = "smollm2"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_serving(url: str, process: subprocess.Popen, log: Path, deadline_s: float = 120) -> None:
    deadline = time.time() + deadline_s
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited ({process.returncode}): {log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(url + "/v1/models", timeout=2)
            return
        except Exception as exc:  # noqa: BLE001 (not up yet: refused, 404 or 401 all mean it answers or will)
            if getattr(exc, "code", None):
                return  # an HTTP status (404 /health, 401 with a key): the server is up
        time.sleep(0.3)
    raise RuntimeError(f"the server did not come up within {deadline_s:g} s: {log.read_text()[-2000:]}")


@contextmanager
def llama_cpp_server(port: int | None = None, api_key: str | None = None, threads: int = 1, log_dir: Path | None = None):
    """llama-cpp-python's server on the embedded GGUF, started as the README says (`python -m
    models.llamacpp_server`: its weights in the app's plain CPU buffers); yields its base URL (.../v1)."""
    from models.embedded import EMBEDDED_MODELS, embedded_gguf_path

    port = port or free_port()
    gguf = embedded_gguf_path(EMBEDDED_MODELS["smollm2-135m"])
    command = [sys.executable, "-m", "models.llamacpp_server", "--model", str(gguf), "--model_alias", LLAMA_ALIAS,
               "--host", "127.0.0.1", "--port", str(port), "--n_threads", str(threads), "--n_ctx", "4096",
               # Its default cancels a streaming reply whenever another request arrives: no concurrency at all.
               "--interrupt_requests", "False"]
    if api_key:
        command += ["--api_key", api_key]
    with _running(command, f"http://127.0.0.1:{port}", log_dir, "llama-server") as url:
        yield url + "/v1"


@contextmanager
def transformers_server(port: int | None = None, log_dir: Path | None = None, continuous_batching: bool = False):
    """`transformers serve` pinned to the embedded model's converted folder; yields (base URL, served model name)."""
    from models.embedded import EMBEDDED_MODELS, ensure_converted

    port = port or free_port()
    folder = str(ensure_converted(EMBEDDED_MODELS["smollm2-135m"]))
    cli = Path(sys.executable).with_name("transformers")
    command = [str(cli), "serve", folder, "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]
    if continuous_batching:  # batches the requests in flight (paged attention)
        command.append("--continuous-batching")
    with _running(command, f"http://127.0.0.1:{port}", log_dir, "transformers-serve") as url:
        yield url + "/v1", folder


@contextmanager
def _running(command: list[str], url: str, log_dir: Path | None, name: str):
    log_dir = Path(log_dir or os.environ.get("TMPDIR", "/tmp"))
    log = log_dir / f"{name}-{url.rsplit(':', 1)[-1]}.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    with open(log, "w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        wait_until_serving(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
