"""The Hugging Face Space: the README's front matter, and results and hub downloads kept in persistent storage (a
temporary folder named by $LLM_JUDGE_PERSISTENT_DIR stands in for a Space's /data)."""
import os
import subprocess
import sys

import pytest
import yaml

import basics
from basics import REPO_ROOT, persistent_dir, results_dir, use_persistent_hf_home, writable_folder

# https://huggingface.co/docs/hub/spaces-config-reference, and huggingface_hub's SpaceHardware for zero-a10g
HARDWARE = {"cpu-basic", "cpu-upgrade", "zero-a10g", "t4-small", "t4-medium", "l4x1", "l4x4", "l40sx1", "l40sx4",
            "l40sx8", "a10g-small", "a10g-large", "a10g-largex2", "a10g-largex4", "a100-large", "a100x4", "a100x8"}
SEED_MODELS = ["HuggingFaceTB/SmolLM2-135M-Instruct", "forestav/LoRA-2000", "KolumbusLindh/LoRA-6150"]


def front_matter() -> dict:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n"), "a Space reads its configuration from YAML at the very top of README.md"
    return yaml.safe_load(text.split("---\n", 2)[1])


def test_the_front_matter_configures_the_space():
    meta = front_matter()
    assert meta["sdk"] == "gradio" and meta["app_file"] == "app.py"
    assert 0 < len(meta["short_description"]) <= 60, "the Hub refuses a short_description over 60 characters"
    assert meta["models"] == SEED_MODELS
    assert meta["suggested_hardware"] in HARDWARE
    assert isinstance(meta["python_version"], str), "unquoted, 3.10 would read as the number 3.1"


def test_the_front_matter_pins_what_requirements_txt_pins():
    meta = front_matter()
    pins = dict(line.split("==") for line in (REPO_ROOT / "requirements.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    assert meta["sdk_version"] == pins["gradio"]
    assert f'target-version = "py{meta["python_version"].replace(".", "")}"' in (REPO_ROOT / "pyproject.toml").read_text()


@pytest.fixture
def space(monkeypatch, tmp_path):
    """No $LLM_JUDGE_RESULTS or $HF_HOME (the test session sets the first), persistent storage at tmp/data."""
    monkeypatch.delenv("LLM_JUDGE_RESULTS", raising=False)
    monkeypatch.delenv("HF_HOME", raising=False)
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("LLM_JUDGE_PERSISTENT_DIR", str(data))
    writable_folder.cache_clear()
    yield data
    writable_folder.cache_clear()


def test_results_go_to_persistent_storage_when_it_is_there(space):
    assert persistent_dir() == space
    assert results_dir() == space / "results"


def test_llm_judge_results_still_comes_first(space, monkeypatch, tmp_path):
    monkeypatch.setenv("LLM_JUDGE_RESULTS", str(tmp_path / "mine"))
    assert results_dir() == tmp_path / "mine"


@pytest.mark.parametrize("make", [
    pytest.param(lambda data: data.rmdir(), id="missing"),
    pytest.param(lambda data: (data.rmdir(), data.write_text("x")), id="a file, not a folder"),
])
def test_without_persistent_storage_results_stay_in_the_repo(space, make):
    make(space)
    assert persistent_dir() is None
    assert results_dir() == REPO_ROOT / "results"


def test_a_folder_no_file_can_be_made_in_is_not_persistent_storage(space, monkeypatch):
    """As on a read-only mount (root ignores permission bits, so the check makes a real file, which fails here)."""
    def refuse(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(basics.tempfile, "TemporaryFile", refuse)
    assert persistent_dir() is None
    assert results_dir() == REPO_ROOT / "results"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes in a folder whatever its permission bits")
def test_a_read_only_folder_is_not_persistent_storage(space):
    space.chmod(0o500)
    try:
        assert persistent_dir() is None
    finally:
        space.chmod(0o700)


def test_the_writable_check_leaves_no_file_behind(space):
    assert writable_folder(str(space)) and list(space.iterdir()) == []


def test_hf_home_goes_to_persistent_storage_only_when_not_set(space, monkeypatch):
    assert use_persistent_hf_home() == space / ".huggingface"
    assert os.environ["HF_HOME"] == str(space / ".huggingface")
    monkeypatch.setenv("HF_HOME", "/somewhere/chosen")
    assert use_persistent_hf_home() is None
    assert os.environ["HF_HOME"] == "/somewhere/chosen"


def test_hf_home_is_left_unset_without_persistent_storage(space):
    space.rmdir()
    assert use_persistent_hf_home() is None
    assert "HF_HOME" not in os.environ


@pytest.mark.process  # a Python process of its own
def test_app_py_sets_hf_home_before_huggingface_hub_reads_it(tmp_path):
    """huggingface_hub reads $HF_HOME once, when imported: app.py must set it before any import that pulls it in."""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HOME", "LLM_JUDGE_RESULTS")}
    env["LLM_JUDGE_PERSISTENT_DIR"] = str(tmp_path)
    code = "import app, basics, huggingface_hub.constants as c; print(c.HF_HOME); print(basics.results_dir())"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == [str(tmp_path / ".huggingface"), str(tmp_path / "results")]
