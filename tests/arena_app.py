"""The app in a process of its own with an arena pool of scripted models (instant answers): for the arena's restart,
browser and MCP tests, which kill it, start it again or read its MCP endpoint."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from servers import free_port

from basics import REPO_ROOT

JUDGE = "scripted:Relevance: 4\\nCoherence: 3\\nCompleteness: 4\\nReasons: clear||" \
        "Relevance: 2\\nCoherence: 2\\nCompleteness: 1\\nReasons: vague"
MODELS = ("scripted:The alpha answer.", "scripted:The beta answer.", "scripted:The gamma answer.")


def write_pool(folder: Path, models=MODELS, judge: str = JUDGE, prompts: str = "both") -> Path:
    path = folder / "pool.yaml"
    lines = ["models:", *(f"  - '{m}'" for m in models), f"judge: '{judge}'", f"prompts: {prompts}",
             "max_new_tokens: 16"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def launch_app(folder: Path, *flags: str, pool: Path | None = None, deadline_s: float = 180,
               **env) -> tuple[subprocess.Popen, str]:
    """`python app.py FLAGS` on a free port with the arena's pool and store in `folder`; (process, url) once it
    answers."""
    port = free_port()
    environment = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
                   "LLM_JUDGE_PRELOAD": "0", "LLM_JUDGE_RESULTS": str(folder / "results"),
                   "LLM_JUDGE_ARENA_POOL": str(pool or write_pool(folder)),
                   "LLM_JUDGE_ARENA_DIR": str(folder / "arena"), **env}
    log = folder / f"app-{port}.log"
    process = subprocess.Popen([sys.executable, "app.py", *flags], cwd=REPO_ROOT, env=environment,
                               stdout=open(log, "w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited ({process.returncode}): {log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.5)
    kill(process)
    raise RuntimeError(f"the app did not start in {deadline_s:g} s: {log.read_text()[-3000:]}")


def kill(process: subprocess.Popen) -> None:
    """SIGKILL, as a crash or a Space's restart would: nothing gets to clean up."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
