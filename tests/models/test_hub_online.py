"""The online path: a hub id listed by the hub's API and its file downloaded by huggingface_hub into an empty cache,
against a stand-in for the hub on 127.0.0.1 (tests/hub_server.py; the real hub cannot be reached from here). The
process runs with HF_ENDPOINT pointing at it and HF_HUB_OFFLINE=0, as a connected user's would."""
import json
import os
import subprocess
import sys

import pytest
from hub_replica import GGUF_REPO
from hub_server import HubStandIn

from basics import REPO_ROOT

SCRIPT = """
import json, sys
from models import load_model, parse_model_spec
from models.settings import SamplingSettings
out = {}
try:
    parse_model_spec("acme/no-such-repo")
except Exception as exc:
    out["missing"] = f"{type(exc).__name__}: {exc}"
backend = load_model(sys.argv[1])
out["described"] = backend.describe()
out["answer"] = backend.complete([{"role": "user", "content": "Name three fruits."}],
                                 SamplingSettings(temperature=0, max_new_tokens=12)).text
print(json.dumps(out))
"""


def run_script(spec: str, env: dict) -> dict:
    result = subprocess.run([sys.executable, "-c", SCRIPT, spec], cwd=REPO_ROOT, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.model
def test_a_gguf_repo_is_listed_online_and_its_file_downloaded_into_the_cache(hub_replica, tmp_path):
    work = hub_replica.parent / "work"
    hub = HubStandIn({GGUF_REPO: {p.name: p for p in work.glob("unsloth.*.gguf")}})
    cache = tmp_path / "hub-cache"
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HUB_OFFLINE": "0", "HF_HUB_CACHE": str(cache),
           "HF_HUB_DISABLE_XET": "1"}
    try:
        online = run_script(GGUF_REPO, env)
    finally:
        hub.close()
    assert online["described"]["hub"]["base"] == {"repo": GGUF_REPO, "kind": "gguf", "revision": hub.commit(GGUF_REPO),
                                                  "listed_from": "hub", "file": "unsloth.Q4_K_M.gguf"}
    assert online["answer"].strip()
    assert "there is no model 'acme/no-such-repo' on the hub" in online["missing"]
    assert f"GET /api/models/{GGUF_REPO}" in hub.requests
    downloaded = [r for r in hub.requests if r.startswith("GET /") and "/resolve/" in r]
    assert downloaded == [f"GET /{GGUF_REPO}/resolve/{hub.commit(GGUF_REPO)}/unsloth.Q4_K_M.gguf"]  # that file only
    snapshot = cache / f"models--{GGUF_REPO.replace('/', '--')}" / "snapshots" / hub.commit(GGUF_REPO)
    assert (snapshot / "unsloth.Q4_K_M.gguf").is_file()
    # The hub gone: the same id now resolves from what was downloaded, to the same file at the same commit.
    offline = run_script(GGUF_REPO, {**env, "HF_HUB_OFFLINE": "1"})
    assert offline["described"]["hub"]["base"] == {**online["described"]["hub"]["base"], "listed_from": "cache"}
    assert offline["answer"] == online["answer"]
