"""The Gradio app assembled from its tabs; each tab module wires widgets to package functions."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from basics import UserFacingError
from judge.templates import default_template
from models import load_model
from runs.config import DEFAULT_JUDGE, default_model_pair
from runs.public import enable_public_mode, public_gate, public_mode_on
from ui.arena_tab import SELECT_LINKED_TAB, arena_leaderboard, arena_tab, run_banner
from ui.batch_tab import batch_tab
from ui.compare_tab import compare_tab
from ui.judge_lab_tab import judge_lab_tab
from ui.results_tab import SELECT_LINKED_RUN, results_tab
from ui.training_tab import refresh_adapters, training_tab
from ui.widgets import PRIVATE, refreshed_pickers

APP_CSS = Path(__file__).with_name("app.css")  # launch(css_paths=[APP_CSS]): Gradio 6 takes CSS at launch


def build_app(public: bool | None = None) -> gr.Blocks:
    """The whole page. `public` (default: public_mode_on(), i.e. on a Space or with $LLM_JUDGE_PUBLIC=1) builds the
    shared-app version: the allow-listed models only, no Training tab, no template edits, the limits of
    prompts/public/allow_list.yaml. Public mode stays on for the process once a public page is built."""
    if public if public is not None else public_mode_on():
        enable_public_mode()
    shared = public_gate() is not None
    model_a_default, model_b_default = default_model_pair()
    rubric = default_template("single").rubric
    with gr.Blocks(title="LLM as a Judge") as demo:
        gr.Markdown(
            "# LLM as a Judge\nTwo models answer your instruction and a judge scores both answers on "
            f"**{rubric.describe()}** with the default template"
            + (" (a shared app: the models it offers, within its limits)." if shared else ".")
        )
        banner = gr.Markdown(visible=False, elem_id="link-banner")  # ?run=NAME: the linked run's headline
        compare = compare_tab(model_a_default, model_b_default)
        adapters = None if shared else training_tab(compare.pickers)  # visitors never start training
        batch_tab(compare.pickers)
        results = results_tab()
        judge_lab_tab()
        arena = arena_tab()
        demo.load(refreshed_pickers, None, compare.pickers, **PRIVATE)
        demo.load(run_banner, None, banner, **PRIVATE)
        demo.load(results.open_link, None, results.link_outputs, **PRIVATE).then(
            None, None, None, js=SELECT_LINKED_RUN, **PRIVATE)
        demo.load(arena.open_link, None, arena.link_outputs, **PRIVATE)
        # ?battle=ID selects the Arena tab in the browser: an explicit gr.Tabs would do it from Python, but a tab
        # function that leaves a component between the tabs (a gr.State) breaks an explicit Tabs' tab bar.
        demo.load(None, None, None, js=SELECT_LINKED_TAB, **PRIVATE)
        demo.load(arena_leaderboard, None, arena.board_outputs, **PRIVATE)
        if adapters is not None:
            demo.load(refresh_adapters, adapters, adapters, **PRIVATE)
    return demo


def preload_default_models() -> None:
    """Load the default models in the background so the first click does not wait for the conversion."""
    for spec in dict.fromkeys((*default_model_pair(), DEFAULT_JUDGE)):
        try:
            load_model(spec)
        except UserFacingError as exc:
            print(f"could not preload {spec}: {exc}")
