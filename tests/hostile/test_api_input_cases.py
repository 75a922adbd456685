"""Every endpoint of a shared app sent what its page never sends (issue 25, item 2), one named case each: wrong types,
nulls, NaN and infinite floats, huge integers, very long strings; run names with '..', absolute paths and symlinks for
the exports and resume; Gradio's file routes asked for server files; an upload over the size limit.

The app runs as a Space would (`python app.py --public`), on an allow-list of scripted models so nothing loads. Each
refusal is a gr.Error whose message names the field and what it takes, shows no server folder, and leaves no
traceback in the server's log.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest
import yaml
from servers import free_port

from basics import REPO_ROOT

# Every test here talks to `python app.py --public` in a process of its own: the full suite runs them, the fast
# part (-m "not model and not browser and not process") leaves them out.
pytestmark = pytest.mark.process
JUDGE = "scripted:Relevance: 4\nCoherence: 3\nCompleteness: 4"
COMPARE = dict(model_a="scripted:hello there", model_b="scripted:world", judge=JUDGE, prompt="Say hi.", preset="p1",
               temperature=0.5, min_p=0.05, top_p=1.0, max_new_tokens=16, seed=0, mode="single", template_text="",
               swap=True, judge_temperature=0.0, judge_method="parsed", judge_reasons=True, more_judges=[],
               base_url="", judge_cache=True, long_prompts="refuse", system_a="", system_b="", tie_band=0.05)
BATCH = dict(prompt_set="study", model_a="scripted:hello there", model_b="scripted:world", judge=JUDGE, presets=["p1"],
             max_new_tokens=16, mode="single", limit=1, judge_method="parsed", more_judges=[], base_url="",
             judge_cache=True, long_prompts="refuse", system_a="", system_b="")
VALIDATE = dict(data=str(REPO_ROOT / "prompts" / "validation" / "good_vs_broken_pairs.jsonl"), mode="pairwise",
                template_text="", judges=[JUDGE], methods=["parsed"], limit=2, panel=False)
DEFAULTS = {"compare": COMPARE, "batch": BATCH, "validate": VALIDATE}
NAN, INF = "NaN", "Infinity"  # JSON as Python's json module reads it: a hand-made call can send them


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """(url, results folder, log file) of `python app.py --public` with scripted models on its allow-list."""
    tmp = tmp_path_factory.mktemp("hostile-app")
    policy = tmp / "allow_list.yaml"
    policy.write_text(yaml.safe_dump({"models": ["scripted:hello there", "scripted:world", JUDGE]}), encoding="utf-8")
    port, log = free_port(), tmp / "app.log"
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1", "LLM_JUDGE_PRELOAD": "0",
           "LLM_JUDGE_RESULTS": str(tmp / "results"), "LLM_JUDGE_PUBLIC_CONFIG": str(policy)}
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "app.py", "--public"], cwd=REPO_ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(240):
            if process.poll() is not None:
                pytest.fail(f"the app exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        finished = call(url, "batch", BATCH)  # a finished run and an unfinished one to name
        assert finished[0] == "complete", finished
        unfinished = call(url, "batch", {**BATCH, "limit": 2})
        assert unfinished[0] == "complete", unfinished
        runs = sorted(p for p in (tmp / "results").iterdir() if (p / "summary.json").is_file())
        (runs[-1] / "summary.json").unlink()
        (tmp / "outside").mkdir()  # a run folder outside the results folder, and a symlink to it from inside
        for name in ("run.json", "records.jsonl"):
            (tmp / "outside" / name).write_bytes((runs[0] / name).read_bytes())
        (tmp / "results" / "escape").symlink_to(tmp / "outside")
        yield url, tmp / "results", log, runs
    finally:
        process.terminate()
        process.wait(timeout=30)


def call(url: str, api: str, values: dict | list, raw: dict | None = None) -> tuple[str, str]:
    """(event, data) of the last event of one call to /gradio_api/call/API; `raw` puts JSON literals (NaN) in place."""
    data = [json.dumps(v) for v in (values.values() if isinstance(values, dict) else values)]
    for index, literal in (raw or {}).items():
        data[index] = literal
    response = httpx.post(f"{url}gradio_api/call/{api}", content='{"data": [' + ",".join(data) + "]}",
                          headers={"content-type": "application/json"}, timeout=60)
    response.raise_for_status()
    last = ("", "")
    with httpx.stream("GET", f"{url}gradio_api/call/{api}/{response.json()['event_id']}", timeout=120) as events:
        event = ""
        for line in events.iter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                last = (event, line[5:].strip())
    return last


def sent(api: str, **overrides) -> tuple[dict, dict]:
    """(the endpoint's values with `overrides`, where NaN and infinity go as JSON literals)."""
    values = {**DEFAULTS[api], **overrides}
    raw = {i: v for i, (k, v) in enumerate(values.items()) if v in (NAN, INF) and k in overrides}
    return {k: (0 if v in (NAN, INF) else v) for k, v in values.items()}, raw


# (case) -> (endpoint, values sent, what the message says)
CASES = [
    pytest.param("compare", dict(model_a=5), "Model A must be text, got int '5'", id="compare: a number for Model A"),
    pytest.param("compare", dict(judge=["scripted:world"]), "Judge must be text, got list",
                 id="compare: a list for the judge"),
    pytest.param("compare", dict(model_a=None), "Model A '' is not offered", id="compare: null for Model A"),
    pytest.param("compare", dict(prompt=42), "the instruction must be text, got int '42'",
                 id="compare: a number for the instruction"),
    pytest.param("compare", dict(prompt={"a": 1}), "the instruction must be text, got dict",
                 id="compare: a mapping for the instruction"),
    pytest.param("compare", dict(prompt="x" * 1_000_000), "the instruction has 1,000,000 characters; this shared "
                 "app takes at most 4,000", id="compare: an instruction of a million characters"),
    pytest.param("compare", dict(temperature="hot"), "temperature must be a number, got str 'hot'",
                 id="compare: a word for the temperature"),
    pytest.param("compare", dict(temperature=None), "temperature must be a number, got NoneType",
                 id="compare: null for the temperature"),
    pytest.param("compare", dict(temperature=NAN), "temperature must be a finite number, got nan",
                 id="compare: NaN for the temperature"),
    pytest.param("compare", dict(top_p=INF), "top_p must be a finite number, got inf", id="compare: infinite top_p"),
    pytest.param("compare", dict(max_new_tokens=10**30), "max_new_tokens must be 1..8192",
                 id="compare: max new tokens of 10^30"),
    pytest.param("compare", dict(max_new_tokens=NAN), "max new tokens must be a finite number, got nan",
                 id="compare: NaN max new tokens"),
    pytest.param("compare", dict(seed=10**30), "seed must be a whole number from 0 to 18446744073709551615",
                 id="compare: a seed of 10^30"),
    pytest.param("compare", dict(seed=1.5), "seed must be a whole number, got 1.5", id="compare: a seed of 1.5"),
    pytest.param("compare", dict(seed=INF), "seed must be a finite number, got inf", id="compare: an infinite seed"),
    pytest.param("compare", dict(seed="abc"), "seed must be a number, got str 'abc'", id="compare: a word for a seed"),
    pytest.param("compare", dict(tie_band=NAN), "the tie band must be a finite number, got nan",
                 id="compare: a NaN tie band"),
    pytest.param("compare", dict(mode="m" * 100_000), "mode must be one of single, pairwise, got str 'mmmm",
                 id="compare: a mode of 100,000 characters"),
    pytest.param("compare", dict(mode=[1]), "mode must be one of single, pairwise, got list", id="compare: a list mode"),
    pytest.param("compare", dict(preset={"a": 1}), "preset must be one of p1, p2, custom, got dict",
                 id="compare: a mapping preset (was an unhashable-type error)"),
    pytest.param("compare", dict(judge_method=5), "judge method must be one of auto, parsed, probabilities",
                 id="compare: a number for the judge method"),
    pytest.param("compare", dict(long_prompts="evil"), "long prompts must be one of refuse, truncate",
                 id="compare: an unknown long-prompts choice"),
    pytest.param("compare", dict(swap="false"), "swap must be true or false, got str 'false'",
                 id="compare: the text 'false' for swap (was read as true)"),
    pytest.param("compare", dict(template_text=5), "the judge template must be text, got int",
                 id="compare: a number for the template"),
    pytest.param("compare", dict(more_judges=5), "More judges must be a list of texts, got int",
                 id="compare: a number for more judges"),
    pytest.param("compare", dict(more_judges="scripted:evil"), "judge 'scripted:evil' is not offered",
                 id="compare: one text for more judges (was read letter by letter)"),
    pytest.param("compare", dict(system_a=5), "the system prompt for Model A must be text",
                 id="compare: a number for a system prompt"),
    pytest.param("compare", dict(base_url=5), "the base URL must be text", id="compare: a number for the base URL"),
    pytest.param("batch", dict(prompt_set=5), "the prompt set must be text, got int", id="batch: a number for the set"),
    pytest.param("batch", dict(limit="x"), "Limit must be a number, got str 'x'", id="batch: a word for the limit"),
    pytest.param("batch", dict(limit=NAN), "Limit must be a finite number, got nan", id="batch: a NaN limit"),
    pytest.param("batch", dict(limit=-3), "Limit must be 0 (all prompts) or more, got -3",
                 id="batch: a negative limit"),
    pytest.param("batch", dict(presets=5), "Presets must be a list of texts, got int", id="batch: a number for presets"),
    pytest.param("batch", dict(presets=None), "pick at least one preset", id="batch: null presets"),
    pytest.param("batch", dict(max_new_tokens=None), "max new tokens must be a number, got NoneType",
                 id="batch: null max new tokens"),
    pytest.param("batch", dict(mode=None), "Judge mode must be one of single, pairwise", id="batch: null mode"),
    pytest.param("batch", dict(prompt_set="/etc/passwd"), "one you upload", id="batch: /etc/passwd as the set"),
    pytest.param("batch", dict(prompt_set="../../etc/passwd.csv"), "one you upload", id="batch: a set named with .."),
    pytest.param("validate", dict(data=5), "the labelled file must be text, got int", id="validate: a number for data"),
    pytest.param("validate", dict(limit=INF), "Limit must be a finite number, got inf", id="validate: infinite limit"),
    pytest.param("validate", dict(limit=10**30), "set Limit from 1 to 200", id="validate: a limit of 10^30"),
    pytest.param("validate", dict(methods=None), "method must be one of auto, parsed, probabilities",
                 id="validate: null methods"),
    pytest.param("validate", dict(judges=5), "Judges must be a list of texts, got int", id="validate: a number judges"),
    pytest.param("validate", dict(panel="yes"), "Also as one panel must be true or false",
                 id="validate: a word for the panel"),
    pytest.param("validate", dict(mode="x" * 100_000), "Mode must be one of pairwise, single, label, got str 'xxx",
                 id="validate: a mode of 100,000 characters"),
    pytest.param("validate", dict(data="/etc/passwd"), "one you upload", id="validate: /etc/passwd as labels"),
]


@pytest.mark.parametrize("api, overrides, expected", CASES)
def test_a_value_the_page_never_sends_gets_a_message_naming_the_field(app, api, overrides, expected):
    url, results, _, _ = app
    values, raw = sent(api, **overrides)
    event, data = call(url, api, values, raw)
    assert event == "error", data[:300]
    message = json.loads(data)["error"]
    assert message and expected in message, message
    assert len(message) < 1500 and str(results) not in message and str(REPO_ROOT) not in message


RUN_CASES = [
    pytest.param("{results}/../outside", id="a run path climbing out of the results folder"),
    pytest.param("../outside", id="a run name with .."),
    pytest.param("/etc", id="an absolute server folder"),
    pytest.param("escape", id="a symlink in the results folder to a folder outside"),
    pytest.param(".cache", id="the judge cache folder, no run"),
    pytest.param("{results}/.cache", id="the judge cache folder by its absolute path (was 'not a run folder')"),
    pytest.param("{results}", id="the results folder itself"),
    pytest.param(5, id="a number for a run"),
    pytest.param(["run"], id="a list for a run"),
    pytest.param("r" * 100_000, id="a run name of 100,000 characters"),
]


@pytest.mark.parametrize("api", ["export_csv", "export_json", "export_report", "resume_batch"])
@pytest.mark.parametrize("name", RUN_CASES)
def test_a_run_outside_the_results_folder_is_refused_alike_by_exports_and_resume(app, api, name):
    url, results, _, _ = app
    name = name.replace("{results}", str(results)) if isinstance(name, str) else name
    event, data = call(url, api, [name])
    message = json.loads(data)["error"]
    assert event == "error" and ("on this shared app: pick one from the list" in message
                                 or "must be text" in message), message
    assert str(results) not in message and len(message) < 600, message[:300]


def test_resuming_a_finished_run_names_it_by_its_name_not_its_server_path(app):
    url, results, _, runs = app
    event, data = call(url, "resume_batch", [runs[0].name])
    message = json.loads(data)["error"]
    assert event == "error" and f"results/{runs[0].name} already finished" in message and str(results) not in message


def test_an_unfinished_run_is_resumed_by_name_and_its_status_shows_no_server_path(app):
    url, results, _, runs = app
    event, data = call(url, "resume_batch", [runs[-1].name])
    assert event == "complete" and f"Saved to `results/{runs[-1].name}`" in data and str(results) not in data
    assert '"escape"' not in data, "the runs offered to resume leave out a symlink leading out of the results folder"


@pytest.mark.parametrize("path", [
    pytest.param("/etc/passwd", id="file route: /etc/passwd"),
    pytest.param("/proc/self/environ", id="file route: the server's environment"),
    pytest.param("{repo}/app.py", id="file route: the app's own code"),
    pytest.param("app.py", id="file route: the app's code by a relative path"),
    pytest.param("{repo}/prompts/public/allow_list.yaml", id="file route: the allow-list"),
    pytest.param("{results}/{run}/run.json", id="file route: a run's manifest"),
    pytest.param("{results}/.cache/judge_calls.sqlite", id="file route: the judge cache"),
    pytest.param("../../../etc/passwd", id="file route: a path climbing with .."),
    pytest.param("%2Fetc%2Fpasswd", id="file route: an encoded path"),
])
def test_gradio_file_routes_serve_no_server_file(app, path):
    url, results, _, runs = app
    path = path.format(repo=REPO_ROOT, results=results, run=runs[0].name)
    for route in ("gradio_api/file=", "gradio_api/file/"):
        response = httpx.get(url + route + path, timeout=30)
        assert response.status_code in (403, 404), (route, response.status_code)
        assert "root:" not in response.text and "scripted" not in response.text


def test_an_upload_over_the_size_limit_is_refused_as_it_arrives(app):
    url, _, _, _ = app
    small = httpx.post(url + "gradio_api/upload", files={"files": ("ok.jsonl", b'{"prompt": "hi"}\n')}, timeout=60)
    big = httpx.post(url + "gradio_api/upload", files={"files": ("big.jsonl", b"x" * 4_000_001)}, timeout=120)
    assert small.status_code == 200 and big.status_code == 413, big.text
    assert "4000000" in big.text


def test_none_of_the_refusals_left_a_traceback_in_the_server_log(app):
    """Run after the tables (pytest keeps file order): every refusal above was an expected user error."""
    _, _, log, _ = app
    text = log.read_text(errors="replace")
    assert "Traceback" not in text, text[text.index("Traceback"):][:3000]


def test_the_page_a_visitor_loads_names_no_server_folder_and_its_names_work(app):
    """The labelled files and the runs to resume are offered by name (they were offered by server path)."""
    url, results, _, runs = app
    config = httpx.get(url + "config", timeout=30).text
    assert str(REPO_ROOT) not in config and str(results) not in config
    assert '"good_vs_broken_pairs"' in config
    event, data = call(url, "validate", {**VALIDATE, "data": "good_vs_broken_pairs"})
    assert event == "complete" and str(REPO_ROOT) not in data, data[:300]
