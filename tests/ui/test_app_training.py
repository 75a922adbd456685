"""The Training tab: a tiny real LoRA run driven from the page, adapter metas and curves, and its helpers."""
import json
import tempfile
import threading
from pathlib import Path

import pytest

from basics import UserFacingError
from finetune import progress_view as pv
from finetune.config import DEMO_STEPS, ConfigError
from finetune.progress import Progress
from runs.config import DEFAULT_MODEL_A, DEFAULT_MODEL_B, default_model_pair

TINY_ROWS = [{"instruction": f"Name the number after {i}.", "input": "", "output": f"The number after {i} is {i + 1}."}
             for i in range(8)]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def make_adapter(folder: Path, base: str = "smollm2-135m") -> Path:
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": base}))
    (folder / "meta.json").write_text(json.dumps({"base": base, "steps": 1, "engine": "peft"}))
    return folder


# --------------------------------------------------------------------------------------------- helpers, no model

def test_default_model_pair_is_the_demo_adapters_when_both_exist(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_JUDGE_ADAPTERS", str(tmp_path))
    assert default_model_pair() == (DEFAULT_MODEL_A, DEFAULT_MODEL_B)
    make_adapter(tmp_path / "demo" / f"step-{DEMO_STEPS[0]}")
    assert default_model_pair() == (DEFAULT_MODEL_A, DEFAULT_MODEL_B), "one demo checkpoint is not a pair"
    make_adapter(tmp_path / "demo" / f"step-{DEMO_STEPS[1]}", base="HuggingFaceTB/SmolLM2-135M-Instruct")
    pair = default_model_pair()
    assert pair == (f"smollm2-135m+demo/step-{DEMO_STEPS[0]}", f"smollm2-135m+demo/step-{DEMO_STEPS[1]}")
    from models.spec import known_model_specs

    assert set(pair) <= set(known_model_specs()), "the defaults must be spelled as the pickers offer them"


def test_default_model_pair_is_the_demo_gguf_twins_on_the_float32_base_when_both_have_one(tmp_path, monkeypatch):
    from models.spec import known_model_specs

    monkeypatch.setenv("LLM_JUDGE_ADAPTERS", str(tmp_path))
    folders = [make_adapter(tmp_path / "demo" / f"step-{step}") for step in DEMO_STEPS[:2]]
    (folders[0] / "adapter.gguf").write_bytes(b"GGUF")
    assert default_model_pair() == tuple(f"smollm2-135m+demo/step-{s}" for s in DEMO_STEPS[:2]), \
        "one twin is not a pair: both sides stay on the same backend"
    (folders[1] / "adapter.gguf").write_bytes(b"GGUF")
    pair = default_model_pair()
    assert pair == tuple(f"smollm2-135m-f32-gguf+demo/step-{s}/adapter.gguf" for s in DEMO_STEPS[:2])
    assert set(pair) <= set(known_model_specs()), "the defaults must be spelled as the pickers offer them"


def test_trained_adapters_leave_out_resumable_trainer_checkpoints(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_JUDGE_ADAPTERS", str(tmp_path))
    make_adapter(tmp_path / "run" / "step-2")
    make_adapter(tmp_path / "run" / "_resume" / "checkpoint-2")
    assert pv.trained_adapters() == ["run/step-2"]


def test_config_from_form_types_the_fields_and_puts_the_run_under_the_adapters_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_JUDGE_ADAPTERS", str(tmp_path))
    config = pv.config_from_form("my-run", max_steps=4.0, save_steps="1, 2", lora_r=4.0, learning_rate="1e-4",
                                 seed=None, max_rows="")
    assert config.out == str(tmp_path / "my-run")
    assert (config.max_steps, config.save_steps, config.lora_r, config.learning_rate) == (4, [1, 2], 4, 1e-4)
    assert isinstance(config.max_steps, int) and config.seed == 3407


def test_config_from_form_refuses_a_run_that_already_reached_max_steps(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_JUDGE_ADAPTERS", str(tmp_path))
    (tmp_path / "done-run" / "_resume" / "checkpoint-2").mkdir(parents=True)
    with pytest.raises(ConfigError, match="already trained 2 steps"):
        pv.config_from_form("done-run", max_steps=2)
    assert pv.config_from_form("done-run", max_steps=3).max_steps == 3, "raising max steps continues the run"


@pytest.mark.parametrize("name, values, expected", [
    ("", {}, "output name"),
    ("../outside", {}, "output name"),
    ("run", {"save_steps": "1,x"}, "save_steps must be whole numbers"),
    ("run", {"max_steps": 2.5}, "max_steps must be int"),
    ("run", {"max_steps": 2, "save_steps": "5"}, "must lie between 1 and max_steps"),
])
def test_config_from_form_errors_are_user_facing(name, values, expected):
    with pytest.raises(ConfigError, match=expected):
        pv.config_from_form(name, **values)


def test_run_training_streams_progress_then_the_result_and_reraises_thread_errors():
    def fake_train(config, on_progress):
        on_progress(Progress(step=1, max_steps=2, loss=1.5, elapsed=0.1))
        assert threading.current_thread() is not threading.main_thread()
        return "result"

    assert [getattr(e, "step", e) for e in pv.run_training(None, train_fn=fake_train)] == [1, "result"]

    def failing_train(config, on_progress):
        on_progress(Progress(step=1, max_steps=2, loss=1.5, elapsed=0.1))
        raise UserFacingError("bad data in row 3")

    events = pv.run_training(None, train_fn=failing_train)
    assert next(events).step == 1
    with pytest.raises(UserFacingError, match="bad data in row 3"):
        next(events)


def test_closing_the_stream_stops_the_training_at_its_next_step():
    closed, stopped = threading.Event(), threading.Event()

    def long_train(config, on_progress):
        on_progress(Progress(step=1, max_steps=3, loss=1.0, elapsed=0.0))
        closed.wait(10)  # the page went away while step 2 was computed
        try:
            on_progress(Progress(step=2, max_steps=3, loss=1.0, elapsed=0.0))
        except pv.TrainingCancelled:
            stopped.set()
            raise

    events = pv.run_training(None, train_fn=long_train)
    next(events)
    events.close()
    closed.set()
    assert stopped.wait(10)


def test_the_status_says_loaded_at_the_first_step_and_times_steps_once_one_is_done():
    loaded = Progress(step=0, max_steps=4, loss=None, elapsed=12.0, loaded=True)
    assert pv.status_line(loaded, None).startswith("**Loaded** the model and the data in 12 s; training step 1 of 4")
    assert pv.progress_words(None) == "loading model and data" and pv.progress_words(loaded) == "training"
    first = Progress(step=1, max_steps=4, loss=2.5, elapsed=20.0, seconds_per_step=8.0)
    assert pv.status_line(first, 2.5).endswith("· 8.0 s per step · about 24 s left")
    assert pv.progress_words(first) == "training · 8.0 s per step"
    last = Progress(step=4, max_steps=4, loss=2.0, elapsed=44.0, seconds_per_step=8.0)
    assert "left" not in pv.status_line(last, 2.0)


def test_the_done_message_suggests_the_gguf_twin_the_pickers_offer(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from finetune.data import DataReport
    from models.spec import known_model_specs

    monkeypatch.setenv("LLM_JUDGE_ADAPTERS", str(tmp_path))
    folder = make_adapter(tmp_path / "run" / "step-2")
    result = SimpleNamespace(checkpoints=[folder], seconds=30.0, engine="peft", report=DataReport(source="d.jsonl", layout="messages", rows=8, used=8))
    assert "`smollm2-135m+run/step-2`." in pv.done_markdown(result)  # no twin: the transformers spec
    (folder / "adapter.gguf").write_bytes(b"GGUF")
    done = pv.done_markdown(result)
    twin = "smollm2-135m-f32-gguf+run/step-2/adapter.gguf"
    assert f"e.g. as `{twin}` (its GGUF twin" in done and twin in known_model_specs()


def test_model_a_and_b_are_not_offered_the_scoring_judges():
    from runs.public import offered_answering_models, offered_models

    judges = {"smollm2-135m-judge", "toxicity"}
    assert judges <= set(offered_models())  # the judge picker offers them
    assert not judges & set(offered_answering_models())
    assert "smollm2-135m-gguf" in offered_answering_models()
    from ui.batch_tab import refresh_batch_lists
    from ui.training_tab import picker_updates

    for model_a, model_b, judge in (picker_updates(), refresh_batch_lists()[:3]):  # after training; on the Batch tab
        offered = [{value for _, value in picker.choices} for picker in (model_a, model_b, judge)]
        assert not judges & (offered[0] | offered[1]) and judges <= offered[2]


def test_meta_rows_and_curves_figure():
    hyperparameters = {"lora_r": 4, "lora_alpha": 16, "learning_rate": 2e-4, "per_device_batch_size": 1,
                       "gradient_accumulation_steps": 2, "max_seq_length": 128}
    metas = {"a/step-1": {"base": "smollm2-135m", "steps": 1, "engine": "peft", "wall_seconds": 75.2,
                          "tokens_per_second": 12.5, "dataset": {"rows": 8, "used": 7},
                          "hyperparameters": hyperparameters, "loss_curve": [{"step": 1, "loss": 2.0}]},
             "a/step-2": {"loss_curve": [{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.5}]},
             "b/step-2": {}}
    assert [len(row) for row in pv.meta_rows(metas)] == [len(pv.META_HEADERS)] * 3
    assert pv.meta_rows(metas)[0] == ["a/step-1", "smollm2-135m", 1, "peft", "7 of 8", 2.0,
                                      "r 4 · α 16 · lr 0.0002 · batch 1×2 · seq 128", "1:15", 12.5]
    assert pv.meta_rows(metas)[2] == ["b/step-2"] + ["–"] * (len(pv.META_HEADERS) - 1)
    figure = pv.metas_figure(metas)
    # The longest curve is drawn first, so a checkpoint's shorter history stays visible on top of it.
    assert [trace.name for trace in figure.data] == ["a/step-2", "a/step-1", "b/step-2"]
    assert sorted(figure.data, key=lambda t: t.legendrank)[0].name == "a/step-1", "legend keeps the selection order"


# --------------------------------------------------------------------------------------------- the page

@pytest.fixture
def adapters_root(tmp_path, monkeypatch):
    """This test's own adapters folder: the app (same process) reads it at call time; other tests see none."""
    root = tmp_path / "adapters"
    root.mkdir()
    monkeypatch.setenv("LLM_JUDGE_ADAPTERS", str(root))
    return root


@pytest.fixture
def page(browser, app_url, adapters_root):
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(app_url)
    page.get_by_role("tab", name="Training").click()
    page.locator("#train-start").wait_for()
    yield page
    page.close()


# Records every text the status line and the progress box show while the run streams.
RECORD_STREAM = """() => {
  window.__seen = {status: [], progress: []};
  new MutationObserver(() => {
    for (const [key, id] of [["status", "train-status"], ["progress", "train-progress"]]) {
      const text = document.getElementById(id)?.innerText;
      if (text && window.__seen[key].at(-1) !== text) window.__seen[key].push(text);
    }
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def fill(page, elem_id: str, value) -> None:
    page.locator(f"#{elem_id}").locator("textarea, input").first.fill(str(value))


@pytest.mark.model
@pytest.mark.browser
def test_training_from_the_page_streams_the_loss_and_lists_the_new_checkpoints(page, adapters_root, tmp_path):
    data = write_jsonl(tmp_path / "tiny.jsonl", TINY_ROWS)
    page.locator("#train-hyperparameters").get_by_text("Hyperparameters").first.click()
    assert page.locator("#train-lora-r input").input_value() == "16", "prefilled from FinetuneConfig's defaults"
    fill(page, "train-data", data)
    fill(page, "train-name", "ui-run")
    fill(page, "train-max-steps", 2)
    fill(page, "train-save-steps", 1)
    fill(page, "train-per-device-batch-size", 1)
    fill(page, "train-gradient-accumulation-steps", 1)
    fill(page, "train-max-seq-length", 128)
    fill(page, "train-lora-r", 4)
    page.evaluate(RECORD_STREAM)
    page.locator("#train-start").click()
    page.wait_for_function("() => document.querySelector('#train-status')?.innerText.includes('Done')",
                           timeout=180_000)
    status = page.locator("#train-status").inner_text()
    assert "ui-run/step-1" in status and "ui-run/step-2" in status, status
    assert "8 of 8 rows used" in status
    assert page.locator("#train-loss .js-plotly-plot").count() == 1
    assert (adapters_root / "ui-run" / "step-2" / "adapter_config.json").is_file()
    seen = page.evaluate("() => window.__seen")
    assert any("step 1 / 2" in text and "loss" in text for text in seen["status"]), seen["status"]
    assert any("/2 steps" in text for text in seen["progress"]), f"no progress bar seen: {seen['progress']}"
    # Loading ends before step 1 is trained: the status and the bar say so, then time the steps.
    assert any("training step 1 of 2" in text for text in seen["status"]), seen["status"]
    assert any("training" in text and "loading" not in text for text in seen["progress"]), seen["progress"]
    assert any("s per step" in text and "left" in text for text in seen["status"]), seen["status"]
    assert "e.g. as smollm2-135m-f32-gguf+ui-run/step-2/adapter.gguf (its GGUF twin" in status, status

    page.locator("#adapter-refresh").click()
    for name in ("ui-run/step-1", "ui-run/step-2"):
        page.locator("#adapter-list").get_by_label(name, exact=True).check()
    page.wait_for_function("() => document.querySelector('#adapter-meta')?.innerText.includes('ui-run/step-2')",
                           timeout=30_000)
    table = page.locator("#adapter-meta").inner_text()
    assert "ui-run/step-1" in table and "peft" in table and "8 of 8" in table, table
    assert "_resume" not in page.locator("#adapter-list").inner_text()
    page.locator("#adapter-curves .js-plotly-plot").wait_for(timeout=30_000)
    assert page.locator("#adapter-curves .scatterlayer .trace").count() == 2, "one curve per selected checkpoint"
    page.screenshot(path=str(Path(tempfile.gettempdir()) / "training_tab.png"), full_page=True)

    # The Compare tab's pickers now offer the new checkpoints.
    page.get_by_role("tab", name="Compare").click()
    page.locator("#picker-model-a input").click()
    page.get_by_role("option", name="smollm2-135m+ui-run/step-2").wait_for(timeout=10_000)
    assert page.get_by_role("option", name="smollm2-135m-judge", exact=True).count() == 0, "a judge as Model A"


@pytest.mark.model
@pytest.mark.browser
def test_uploaded_data_with_unknown_columns_shows_the_error_in_the_page(page, tmp_path):
    data = write_jsonl(tmp_path / "wrong.jsonl", [{"question": "2+2?", "answer": "4"}] * 3)
    with page.expect_file_chooser() as chooser:
        page.locator("#train-upload").click()
    chooser.value.set_files(str(data))
    page.wait_for_function(
        "() => document.querySelector('#train-data textarea')?.value.endsWith('wrong.jsonl')", timeout=30_000)
    assert page.locator("#train-data textarea").input_value() != str(data), "the server's copy of the upload"
    fill(page, "train-name", "bad-run")
    page.locator("#train-start").click()
    message = page.get_by_text("cannot tell the data layout")
    message.first.wait_for(timeout=60_000)
    assert message.first.is_visible()
    assert "Failed" in page.locator("#train-status").inner_text()
    page.get_by_text("Training failed before its first logged step").first.wait_for(timeout=15_000)
    assert "waiting for the first logged step" not in page.locator("#train-loss").inner_text()
