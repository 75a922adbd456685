"""The "Compare checkpoints" panel of the Training tab: a sweep from the page on scripted models (its handler, and
once in a real browser: pick the checkpoints, run, read the best one in words with the table and the chart); bad
input is a gr.Error with the reason, kept on the page. The sweep itself on the real embedded model is
tests/evals/test_sweep_model.py's."""
import json

import gradio as gr
import pytest

from evals.sweep import SWEEP_MANIFEST, resolve_checkpoints
from ui.sweep_panel import compare_checkpoints

GOOD = "Relevance: 4\\nCoherence: 4\\nCompleteness: 3"
POOR = "Relevance: 2\\nCoherence: 1\\nCompleteness: 1"
JUDGE = f"scripted:{GOOD}||{POOR}"  # the first answer judged gets GOOD, the second POOR


@pytest.fixture
def prompts(tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_text("".join(json.dumps({"id": f"q{i}", "prompt": f"Explain thing {i}."}) + "\n" for i in range(3)))
    return path


def test_a_sweep_from_the_panel_names_the_best_checkpoint_with_its_table_and_chart(tmp_path, monkeypatch, prompts):
    monkeypatch.setenv("LLM_JUDGE_RESULTS", str(tmp_path / "results"))
    updates = list(compare_checkpoints(["scripted:panel-early", "scripted:panel-late"], "scripted:panel-base",
                                       str(prompts), ["p1"], 0, 0, JUDGE, True))
    status, summary, chart = updates[-1]
    assert status.startswith("**Done.**") and "Best checkpoint" in status
    assert "| Checkpoint | Step | Win rate against the baseline (95%)" in summary
    assert "panel-early" in summary and "panel-late" in summary and "How to read it" in summary
    assert "Answers: 9 generated, 0 reused" in summary  # three models, three prompts, one preset
    assert {trace.name for trace in chart.data} >= {"win rate (Wilson 95%)", "relevance"}
    (sweep,) = [folder for folder in (tmp_path / "results").iterdir() if (folder / SWEEP_MANIFEST).is_file()]
    assert len(json.loads((sweep / SWEEP_MANIFEST).read_text())["pairings"]) == 3  # two vs baseline, one between
    assert any("pairing" in update[0] for update in updates[1:-1])  # progress reached the page while it ran


def test_no_checkpoint_is_a_message_on_the_page_and_a_pop_up(tmp_path, monkeypatch, prompts):
    monkeypatch.setenv("LLM_JUDGE_RESULTS", str(tmp_path / "results"))
    shown = []
    with pytest.raises(gr.Error, match="no checkpoints given"):
        for status, *_ in compare_checkpoints([], "scripted:base", str(prompts), ["p1"], 0, 0, JUDGE, False):
            shown.append(status)
    assert shown[-1].startswith("**Failed:**") and "no checkpoints given" in shown[-1]  # kept after the pop-up
    assert not list(tmp_path.glob(f"results/*/{SWEEP_MANIFEST}"))


def test_a_training_run_is_named_as_the_training_tab_lists_it(tmp_path, monkeypatch):
    import numpy as np
    from safetensors.numpy import save_file

    monkeypatch.setenv("LLM_JUDGE_ADAPTERS", str(tmp_path / "adapters"))
    for step in (10, 20):
        folder = tmp_path / "adapters" / "my-run" / f"step-{step}"
        folder.mkdir(parents=True)
        config = {"peft_type": "LORA", "base_model_name_or_path": "smollm2-135m"}
        (folder / "adapter_config.json").write_text(json.dumps(config))
        (folder / "meta.json").write_text(json.dumps({"base": "smollm2-135m", "steps": step}))
        save_file({"lora_A": np.zeros((1, 1), dtype=np.float32)}, str(folder / "adapter_model.safetensors"))
    assert [c.step for c in resolve_checkpoints(["my-run"])] == [10, 20]  # the run: all its checkpoints
    assert [c.label for c in resolve_checkpoints(["my-run/step-20"])] == ["step-20"]


@pytest.mark.browser
def test_the_training_tab_runs_a_sweep_and_shows_the_best_checkpoint(browser, app_url, prompts):
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    page.goto(app_url)
    page.get_by_role("tab", name="Training").click()
    for spec in ("scripted:browser-early", "scripted:browser-late"):
        box = page.locator("#sweep-checkpoints input")
        box.fill(spec)
        box.press("Enter")
    for elem_id, value in (("sweep-baseline", "scripted:browser-base"), ("sweep-prompts", str(prompts)),
                           ("sweep-judge", JUDGE)):
        box = page.locator(f"#{elem_id} input")
        box.fill(value)
        box.press("Enter")
    page.locator("#sweep-run").click()
    page.wait_for_function("() => document.querySelector('#sweep-summary')?.innerText.includes('How to read it')",
                           timeout=60_000)
    summary = page.locator("#sweep-summary").inner_text()
    assert "browser-early" in summary and "browser-late" in summary and "Best checkpoint" in summary
    page.locator("#sweep-chart .js-plotly-plot").first.wait_for(timeout=20_000)
    assert "Done." in page.locator("#sweep-status").inner_text()
    page.close()


def test_the_batch_tab_has_the_panel_and_a_shared_app_has_none(tmp_path, monkeypatch):
    from runs.public import disable_public_mode
    from ui.app import build_app

    # An app built here opens an arena store: an empty one of its own, so no battle left by another test (in the
    # session's results folder) is queued for its judge in this process.
    monkeypatch.setenv("LLM_JUDGE_ARENA_DIR", str(tmp_path / "arena"))
    monkeypatch.setenv("LLM_JUDGE_RESULTS", str(tmp_path / "results"))

    def elem_ids(demo) -> set:
        return {block.elem_id for block in demo.blocks.values() if getattr(block, "elem_id", None)}

    private = elem_ids(build_app(public=False))
    assert {"sweep-run", "batch-sweep-run", "batch-sweep-checkpoints"} <= private  # Training's and Batch's
    try:
        shared = elem_ids(build_app(public=True))
    finally:
        disable_public_mode()
    assert not {i for i in shared if "sweep" in i}, "a shared app runs no sweeps"
