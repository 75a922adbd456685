"""Shared fixtures: the repo (and tests/, for the shared helpers) on sys.path, a temporary results folder for every
run, and the app on a free port. Test folders mirror the packages: tests/models, tests/judge, tests/runs, ..."""
import os
import socket
import sys
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
for folder in (REPO_ROOT, REPO_ROOT / "tests"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

# Under pytest-xdist each worker gets its share of the cores, torch and llama.cpp alike, and so do the servers and CLI
# runs it starts (they inherit the environment): two workers each spinning two OpenMP threads on two cores made the
# model tests up to six times slower than alone. Before torch is imported anywhere.
if os.environ.get("PYTEST_XDIST_WORKER"):
    _share = max(1, (os.cpu_count() or 1) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1))
    os.environ.setdefault("LLM_JUDGE_THREADS", str(_share))
    os.environ.setdefault("OMP_NUM_THREADS", str(_share))
# With PYTHONDONTWRITEBYTECODE set (this machine sets it), every worker and every CLI, app and server process the
# tests start compiled the project's modules from source, and pytest rewrote every test file's asserts again: seconds
# of each process. The caches go to __pycache__/ (git ignores them); the variable is dropped for the processes started.
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
# Before any project module is imported: runs made by tests never land in the repo's results/.
os.environ["LLM_JUDGE_RESULTS"] = tempfile.mkdtemp(prefix="llm-judge-test-results-")
os.environ["LLM_JUDGE_ADAPTERS"] = tempfile.mkdtemp(prefix="llm-judge-test-adapters-")  # nor adapters trained
os.environ["LLM_JUDGE_TEMPLATES"] = tempfile.mkdtemp(prefix="llm-judge-test-templates-")  # nor templates saved
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# An empty hub cache of the tests' own: the pickers offer cached hub models, and a developer's cache must not change
# what the tests see (tests that need hub repos build a replica: tests/hub_replica.py).
os.environ.setdefault("HF_HUB_CACHE", tempfile.mkdtemp(prefix="llm-judge-test-hub-"))
# A machine with a writable /data (a Space's storage) must not move the tests' HF_HOME or results there.
os.environ.setdefault("LLM_JUDGE_PERSISTENT_DIR", os.path.join(tempfile.gettempdir(), "llm-judge-no-persistent-dir"))

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps trying to reach Google's hosts on this closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def pytest_configure(config):
    """The fast tier (a marker expression leaving out the model tests) fuzzes lighter: tests/fuzz/fuzz_settings.py.
    Before collection, so the fuzz decorators read it; each xdist worker runs this with the same options."""
    if "not model" in (config.option.markexpr or ""):
        os.environ.setdefault("LLM_JUDGE_FUZZ_SHARE", "0.25")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def results_dir() -> Path:
    return Path(os.environ["LLM_JUDGE_RESULTS"])


@pytest.fixture(scope="session")
def app_url():
    """The real app, launched in this process on a free port, for gradio_client and the browser."""
    from ui.app import APP_CSS, build_app

    demo = build_app()
    demo.queue()
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
                            css_paths=[APP_CSS])
    yield url
    demo.close()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: run `make chromium` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, app_url):
    """A fresh tab on the app's Compare page (files needing another start page define their own)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(app_url)
    page.locator("#compare").wait_for()
    yield page
    page.close()


@pytest.fixture(scope="module")
def one_thread_models():
    """One torch and one llama.cpp thread, and an empty model cache at both ends of the module.

    On a small CPU shared with other work, spinning compute threads make a 12-token generation take seconds
    instead of a tenth of one; one thread costs nothing measurable and gives the same tokens.
    """
    import torch

    from models.registry import unload_all

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    unload_all()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LLM_JUDGE_THREADS", "1")
        yield
    unload_all()
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def base(one_thread_models):
    """The embedded transformers backend, loaded once for the module."""
    from models import load_model

    return load_model("smollm2-135m")


@pytest.fixture(scope="module")
def gguf(one_thread_models):
    """The embedded llama.cpp backend, on one thread like the transformers one."""
    from models import load_model

    backend = load_model("smollm2-135m-gguf")
    assert backend.llm.n_threads == 1
    return backend


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory):
    """llama-cpp-python's OpenAI-compatible server on the embedded model (tests/servers.py): its base URL."""
    from servers import llama_cpp_server

    with llama_cpp_server(log_dir=tmp_path_factory.mktemp("servers")) as url:
        yield url


@pytest.fixture(scope="session")
def transformers_server(tmp_path_factory):
    """`transformers serve` on the embedded model: (base URL, served model name)."""
    from servers import transformers_server as serve

    with serve(log_dir=tmp_path_factory.mktemp("servers")) as served:
        yield served


@pytest.fixture(scope="session")
def hub_replica(tmp_path_factory) -> Path:
    """A local Hugging Face cache holding every kind of repo the hub resolution knows (tests/hub_replica.py)."""
    from hub_replica import build_replica

    root = tmp_path_factory.mktemp("hub-replica")
    build_replica(root / "hub", root / "work")
    return root / "hub"


@pytest.fixture
def hub_cache(hub_replica, monkeypatch):
    """huggingface_hub, and transformers through it, read the replica (both look HF_HUB_CACHE up per call); this
    process runs with HF_HUB_OFFLINE=1, so only the network is missing."""
    from huggingface_hub import constants

    from models.hub_files import forget_listings

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub_replica))
    forget_listings()
    yield hub_replica
    forget_listings()


@pytest.fixture
def fresh_models():
    """No cached model leaks into or out of the test: scripted models count their replies and keep what they were
    sent, so a test that reads either starts them from nothing (`pytestmark = pytest.mark.usefixtures(...)`)."""
    from models.registry import unload_all

    unload_all()
    yield
    unload_all()
