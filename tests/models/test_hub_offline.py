"""A hub id that is not in the local cache, on a machine that cannot reach the hub (this one): the load fails with
a message in seconds instead of the hub client's retries (49 s), without HF_HUB_OFFLINE set."""
import subprocess
import sys

import pytest

from basics import REPO_ROOT

SCRIPT = ("from models import load_model\n"
          "try:\n    load_model('nobody-here/no-such-model')\n"
          "except Exception as exc:\n    print(type(exc).__name__, exc)\n")


@pytest.mark.process  # a Python process of its own
def test_an_uncached_hub_id_with_no_hub_in_reach_fails_with_a_message():
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "0", "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.stdout.startswith("ModelLoadError could not load hub model 'nobody-here/no-such-model'"), \
        result.stdout + result.stderr[-2000:]
    assert "Download it on a connected machine" in result.stdout
