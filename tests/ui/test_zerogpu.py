"""ZeroGPU: every handler that generates runs under `spaces.GPU` with a duration derived from its request when the
`spaces` package is importable, and is the plain function when it is not.

ZeroGPU itself cannot run here (no Space, no ZeroGPU scheduler): where `spaces` is needed, a stand-in module takes
its place. Like the real one it records `GPU(duration=...)`, keeps the handler's signature (`functools.wraps`) and a
generator a generator; unlike it, it lends no GPU. The app is built in a child process with the stand-in first on
sys.path, so this test process's modules stay as they are."""
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ui import zerogpu
from ui.zerogpu import MAX_SECONDS, MIN_SECONDS, compare_seconds, duration_for, gpu_handler

REPO_ROOT = Path(__file__).resolve().parents[2]
GENERATING = {"compare", "batch", "resume_batch", "validate", "distill", "train", "sweep", "batch_sweep"}

STAND_IN = '''"""Stand-in for Hugging Face's `spaces` package, which cannot run here: GPU(duration=...) wraps as it does."""
import functools
import inspect

CALLS = []


def GPU(task=None, *, duration=60, **kwargs):
    def wrap(fn):
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def wrapper(*args, **kw):
                yield from fn(*args, **kw)
        else:
            @functools.wraps(fn)
            def wrapper(*args, **kw):
                return fn(*args, **kw)
        wrapper.stand_in_duration = duration
        CALLS.append(fn.__qualname__)
        return wrapper
    return wrap(task) if task is not None else wrap
'''

# Each handler's request as the page sends it by default, then with one setting changed (by parameter name).
CHANGES = {
    "compare": {"short": {"max_new_tokens": 16}, "long": {"max_new_tokens": 1024},
                "panel": {"more_judges": ["smollm2-135m-gguf", "smollm2-135m"]},
                "huge": {"max_new_tokens": 8192, "more_judges": ["a", "b", "c"]}},
    "batch": {"one": {"limit": 1}, "three": {"limit": 3}, "three_two_presets": {"limit": 3, "presets": ["p1", "p2"]},
              "upload": {"prompt_set": "/tmp/uploaded.jsonl", "limit": 0}},
    "resume_batch": {},
    "validate": {"one": {"limit": 1}, "two_methods": {"methods": ["probabilities", "parsed"]},
                 "votes": {"data": "/somewhere/run-with-votes", "limit": 0}},
    "distill": {"one": {"limit": 1}, "teacher": {"teacher": "smollm2-135m-gguf"}},
    "train": {"short": {"max_steps": 1, "max_seq_length": 256}, "long": {"max_steps": 600}},
    "sweep": {"two": {"checkpoints": ["a", "b"], "limit": 2}, "four": {"checkpoints": ["a", "b", "c", "d"], "limit": 2},
              "file": {"checkpoints": ["a", "b"], "prompt_set": "/tmp/prompts.jsonl", "limit": 0}},
    "batch_sweep": {},
}

CHILD = '''
import inspect, json, sys
sys.path.insert(0, sys.argv[1])
import spaces
from gradio.helpers import special_args
from ui.app import build_app

changes = json.loads(sys.argv[2])
out = {}
for block_fn in build_app(public=False).fns.values():
    fn = block_fn.fn
    if not hasattr(fn, "stand_in_duration"):
        out[block_fn.api_name] = None
        continue
    names = list(inspect.signature(fn).parameters)
    defaults = [component.value for component in block_fn.inputs]
    seconds = {}
    for case, change in {"default": {}, **changes[block_fn.api_name]}.items():
        values = [change.get(name, value) for name, value in zip(names, defaults)]
        args, progress_index, _, _ = special_args(fn, values, request=None)  # what Gradio passes the handler
        seconds[case] = fn.stand_in_duration(*args)
    out[block_fn.api_name] = {
        "generator": inspect.isgeneratorfunction(fn) and inspect.isgeneratorfunction(fn.__wrapped__),
        "signature": inspect.signature(fn) == inspect.signature(fn.__wrapped__),
        "progress_found": special_args(fn)[1] == special_args(fn.__wrapped__)[1],
        "duration_signature": inspect.signature(fn.stand_in_duration) == inspect.signature(fn.__wrapped__),
        "seconds": seconds,
    }
out["_calls"] = spaces.CALLS
print(json.dumps(out))
'''


@pytest.fixture(scope="module")
def wrapped_app(tmp_path_factory):
    """{api_name: what the child saw} for the app built with the stand-in `spaces` importable."""
    folder = tmp_path_factory.mktemp("stand-in")
    (folder / "spaces.py").write_text(STAND_IN, encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", CHILD, str(folder), json.dumps(CHANGES)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_with_spaces_every_generating_handler_and_no_other_is_wrapped(wrapped_app):
    wrapped = {name for name, seen in wrapped_app.items() if name != "_calls" and seen is not None}
    assert wrapped == GENERATING
    assert sorted(wrapped_app["_calls"]) == sorted(["compare", "run_batch", "resume_batch", "run_lab", "distil",
                                                    "start_training", "compare_checkpoints"])


@pytest.mark.parametrize("api_name", sorted(GENERATING))
def test_a_wrapped_handler_still_streams_and_gets_its_progress_and_request(wrapped_app, api_name):
    seen = wrapped_app[api_name]
    assert seen["generator"], "a generator stays one, so Gradio streams its updates"
    assert seen["signature"] and seen["progress_found"], "Gradio finds gr.Progress / gr.Request in the wrapper"
    assert seen["duration_signature"], "ZeroGPU calls the duration with the handler's own arguments"
    assert all(MIN_SECONDS <= s <= MAX_SECONDS and isinstance(s, int) for s in seen["seconds"].values())


def test_durations_grow_with_the_request_and_stay_clamped(wrapped_app):
    compare = wrapped_app["compare"]["seconds"]
    assert compare["short"] < compare["default"] < compare["long"] < MAX_SECONDS
    assert compare["panel"] > compare["default"], "each judge of a panel judges too"
    assert compare["huge"] == MAX_SECONDS
    batch = wrapped_app["batch"]["seconds"]
    assert batch["one"] < batch["three"] < batch["three_two_presets"]
    assert batch["upload"] == MAX_SECONDS, "a file not counted before the call asks for the most"
    assert wrapped_app["resume_batch"]["seconds"]["default"] == MAX_SECONDS
    validate = wrapped_app["validate"]["seconds"]
    assert validate["one"] < validate["default"] <= validate["two_methods"]
    assert validate["votes"] == MAX_SECONDS
    distill = wrapped_app["distill"]["seconds"]
    assert distill["one"] < distill["default"] < distill["teacher"]
    train = wrapped_app["train"]["seconds"]
    assert train["short"] < train["default"] < train["long"] == MAX_SECONDS
    sweep = wrapped_app["sweep"]["seconds"]
    assert sweep["two"] < sweep["four"] and sweep["file"] == MAX_SECONDS, "every checkpoint answers and is judged"


def test_without_spaces_the_decorator_gives_back_the_handler_itself(monkeypatch):
    monkeypatch.setitem(sys.modules, "spaces", None)  # `import spaces` raises ImportError

    def handler(x, progress=None):
        yield x

    assert zerogpu.spaces_module() is None
    assert gpu_handler(compare_seconds)(handler) is handler


def test_without_spaces_the_app_registers_the_plain_handlers():
    if zerogpu.spaces_module() is not None:
        pytest.skip("the `spaces` package is installed here: the handlers are wrapped by design")
    from ui import batch_tab, compare_tab, distill_panel, judge_lab_tab, sweep_panel, training_tab

    handlers = [compare_tab.compare, batch_tab.run_batch, batch_tab.resume_batch, judge_lab_tab.run_lab,
                distill_panel.distil, training_tab.start_training, sweep_panel.compare_checkpoints]
    assert not [h.__name__ for h in handlers if hasattr(h, "__wrapped__") or not inspect.isgeneratorfunction(h)]


def test_the_duration_reads_arguments_by_name_positional_or_keyword():
    from ui.compare_tab import compare

    duration = duration_for(getattr(compare, "__wrapped__", compare), compare_seconds)
    positional = ["a", "b", "judge", "hi", "p1", 0.5, 0.05, 1.0, 256, 0, "single", "", True, 0.0]
    assert duration(*positional) == duration(*positional[:8], max_new_tokens=256, seed=0, mode="single",
                                             template_text="", swap=True, judge_temperature=0.0)
    assert duration(*positional[:8], 64, *positional[9:]) < duration(*positional)


def test_a_request_the_estimate_cannot_read_asks_for_the_most():
    """The handler refuses bad input with its own message; its duration must not fail first."""
    def handler(max_new_tokens, more_judges=None):
        yield max_new_tokens

    duration = duration_for(handler, compare_seconds)
    assert duration("1024") == duration(1024.0) == duration(1024) > duration(16)  # Gradio sends floats, clients text
    assert duration(1024, more_judges=5) == MAX_SECONDS  # not a list of judges
    assert duration() == MAX_SECONDS  # arguments that do not bind
    assert duration_for(handler, lambda args: 1 / 0)(5) == MAX_SECONDS


@pytest.mark.parametrize("seconds, clamped", [(0, MIN_SECONDS), (-5, MIN_SECONDS), (61.4, 61), (10**9, MAX_SECONDS)])
def test_clamping(seconds, clamped):
    assert zerogpu.clamp_seconds(seconds) == clamped
