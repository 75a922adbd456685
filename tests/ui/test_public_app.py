"""Public mode driven through the real app: `python app.py --public` in its own process, visited with gradio_client
and raw HTTP as a hostile visitor would (uploads, server paths, oversized requests, two requests at once), and a
private demo behind a login."""
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from gradio_client import Client
from servers import free_port

from basics import REPO_ROOT

PROMPT = "Give two tips for staying focused while studying."
JUDGE = "smollm2-135m-gguf"  # writes replies on llama.cpp: the quickest real judge
# Every test here talks to `python app.py --public` in a process of its own: the full suite runs them, the fast
# part (-m "not model and not browser and not process") leaves them out.
pytestmark = pytest.mark.process
# Gradio refuses a picker value outside its choices before our allow-list sees it; either answer is fine.
NOT_OFFERED = ("not offered on this shared app", "not in the list of choices")


def compare_args(**overrides):
    args = dict(model_a="smollm2-135m-gguf", model_b="smollm2-135m-gguf", judge=JUDGE, prompt=PROMPT,
                preset="p1", temperature=0.5, min_p=0.05, top_p=1.0, max_new_tokens=16, seed=0, mode="single",
                template_text="", swap=True, judge_temperature=0.0, judge_method="parsed")
    args.update(overrides)
    return args


def launch(tmp_path: Path, **env) -> tuple[subprocess.Popen, str]:
    port = free_port()
    environment = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
                   "LLM_JUDGE_PRELOAD": "0", "LLM_JUDGE_RESULTS": str(tmp_path / "results"), **env}
    log = open(tmp_path / f"app-{port}.log", "w")
    process = subprocess.Popen([sys.executable, "app.py", "--public"], cwd=REPO_ROOT, env=environment,
                               stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the app exited: {(tmp_path / f'app-{port}.log').read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=2).status_code in (200, 401):
                return process, url
        except httpx.HTTPError:
            time.sleep(0.5)
    process.kill()
    pytest.fail("the public app did not start in 120 s")


@pytest.fixture(scope="module")
def public_app(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("public-app")
    process, url = launch(tmp_path)
    yield url, process, tmp_path
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def client(public_app):
    return Client(public_app[0], verbose=False)


def refused(client, api_name="/compare", **overrides) -> str:
    with pytest.raises(Exception) as caught:
        client.predict(**(compare_args(**overrides) if api_name == "/compare" else overrides), api_name=api_name)
    assert "Traceback" not in str(caught.value)
    return str(caught.value)


def test_training_and_distillation_are_not_offered_to_visitors(client):
    endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert "/compare" in endpoints and "/batch" in endpoints
    assert "/train" not in endpoints and "/distill" not in endpoints


def test_an_uploaded_gguf_never_reaches_llama_cpp_and_the_server_stays_up(public_app, client, tmp_path):
    empty = tmp_path / "x.gguf"
    empty.write_bytes(b"")
    response = httpx.post(public_app[0] + "gradio_api/upload", files={"files": ("x.gguf", b"", "application/octet-stream")})
    server_copy = response.json()[0]
    message = refused(client, model_b=f"smollm2-135m-gguf+{server_copy}")
    assert any(words in message for words in NOT_OFFERED), message
    assert public_app[1].poll() is None, "the app process must survive"


def test_server_paths_get_the_same_answer_whether_they_exist_or_not(client):
    # The path as echoed (a shared app names its own folders short: ~/.ssh, app) is set aside; the rest must match.
    answers = [re.sub(r"^Model A '.*?' ", "Model A 'PATH' ", refused(client, model_a=path))
               for path in ("/root/.ssh", "/no/such/dir", str(REPO_ROOT))]
    assert len(set(answers)) == 1, answers
    assert any(words in answers[0] for words in NOT_OFFERED)


def test_a_server_file_cannot_be_read_as_a_prompt_set(client, tmp_path):
    secret = tmp_path / "secrets.csv"
    secret.write_text("api_key,token,password\nx,y,z\n", encoding="utf-8")
    message = refused(client, "/batch", prompt_set=str(secret), model_a="smollm2-135m-gguf",
                      model_b="smollm2-135m-gguf", judge=JUDGE, presets=["p1"], max_new_tokens=16, mode="single",
                      limit=1)
    assert "one you upload" in message and "api_key" not in message


@pytest.mark.parametrize("overrides, expected", [
    (dict(prompt="x" * 5000), "takes at most 4,000"),
    (dict(max_new_tokens=1024), "512"),  # Gradio's slider bound or our limit: both name it
    (dict(template_text="name: x\nmode: single\ntemplate: '{prompt} {answer:>99999999}'\n"), "editing the judge "
                                                                                             "template is off"),
    (dict(base_url="http://169.254.169.254/v1", judge="openai:gpt-4o"), "not offered on this shared app"),
], ids=["prompt too long", "too many new tokens", "edited template", "visitor-chosen endpoint"])
def test_requests_beyond_the_public_limits_are_refused(client, overrides, expected):
    assert expected in refused(client, **overrides)


@pytest.mark.model
def test_an_offered_comparison_runs_and_one_visitor_gets_one_request_at_a_time(public_app):
    visitor = Client(public_app[0], verbose=False)
    first = visitor.submit(**compare_args(max_new_tokens=48), api_name="/compare")
    time.sleep(0.3)
    second = visitor.submit(**compare_args(seed=1), api_name="/compare")
    with pytest.raises(Exception, match="already have 1 request"):
        second.result(timeout=300)
    answer_a, answer_b, verdict, *_ = first.result(timeout=300)
    assert answer_a.strip() and answer_b.strip() and verdict
    other = Client(public_app[0], verbose=False)  # another visitor is served as usual
    assert other.predict(**compare_args(seed=2), api_name="/compare")[0].strip()


def test_refused_requests_leave_no_traceback_in_the_server_log(public_app, client):
    """A refused model, prompt or file is an expected user error: the page gets its message, the log stays
    readable. (A slider value past its bound is refused by Gradio itself, which logs a traceback: the page's
    sliders stop at the limits, so only a hand-made API call gets there.)"""
    log = next(public_app[2].glob("app-*.log"))
    before = log.stat().st_size
    refused(client, model_a="/root/.ssh")
    refused(client, prompt="x" * 5000)
    refused(client, "/batch", prompt_set="/etc/passwd.csv", model_a="smollm2-135m-gguf", model_b="smollm2-135m-gguf",
            judge=JUDGE, presets=["p1"], max_new_tokens=16, mode="single", limit=1)
    added = log.read_bytes()[before:].decode("utf-8", errors="replace")
    assert "Traceback" not in added, added[-3000:]


def test_a_private_demo_asks_for_a_login(tmp_path):
    process, url = launch(tmp_path, LLM_JUDGE_AUTH="demo:correct-horse")
    try:
        with pytest.raises(Exception, match="(?i)login|auth|401|credentials"):
            Client(url, verbose=False)
        assert httpx.get(url + "config").status_code == 401
        logged_in = Client(url, auth=("demo", "correct-horse"), verbose=False)
        assert "/compare" in logged_in.view_api(return_format="dict", print_info=False)["named_endpoints"]
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert "correct-horse" not in (tmp_path / next(p.name for p in tmp_path.glob("app-*.log"))).read_text()
