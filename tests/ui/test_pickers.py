"""Model A / B pickers offer models that answer; the judge picker offers the scoring judges too (issue 21, item 10)."""
import gradio as gr

from runs.config import DEFAULT_JUDGE
from ui.widgets import model_picker, refreshed_pickers


def _offered(dropdown) -> list[str]:
    return [c[0] if isinstance(c, (tuple, list)) else c for c in dropdown.choices]


def test_answering_pickers_leave_out_the_scoring_judges_and_the_judge_picker_keeps_them():
    with gr.Blocks():
        model_a = model_picker("Model A", "smollm2-135m-gguf", answering=True)
        judge = model_picker("Judge", DEFAULT_JUDGE)
    assert DEFAULT_JUDGE not in _offered(model_a) and "toxicity" not in _offered(model_a)
    assert "smollm2-135m-gguf" in _offered(model_a)
    assert DEFAULT_JUDGE in _offered(judge)
    a, b, judge_refreshed = refreshed_pickers(3)  # the page-load refresh keeps the same split
    assert DEFAULT_JUDGE not in _offered(a) and DEFAULT_JUDGE not in _offered(b)
    assert DEFAULT_JUDGE in _offered(judge_refreshed)
