"""LLM as a Judge: the Gradio app. It only wires widgets to the `models` and `judge` packages."""
from __future__ import annotations

import os
import threading

import gradio as gr

from judge.compare import DEFAULT_JUDGE, DEFAULT_MODEL_A, DEFAULT_MODEL_B, CompareConfig, run_compare
from judge.prompt_sets import DEFAULT_PROMPT_SET, load_prompt_set, single_prompt
from judge.templates import default_template
from judge.views import SCORE_HEADERS, reasons_markdown, score_rows, timings_line, verdict_line
from models import (
    DEFAULT_JUDGE_SETTINGS, PRESETS, SamplingSettings, UserFacingError, known_model_specs, load_model,
)

CUSTOM = "custom"
STUDY_PROMPTS = [item.prompt for item in load_prompt_set(DEFAULT_PROMPT_SET)]
STAGE_TEXT = {
    "loading": "Loading models (the first load of the embedded model converts it once, ~20 s)…",
    "answer_a": "Model A is answering…",
    "answer_b": "Model B is answering…",
    "judging": "The judge is grading…",
}


def model_picker(label: str, value: str) -> gr.Dropdown:
    return gr.Dropdown(
        choices=known_model_specs(), value=value, label=label, allow_custom_value=True,
        info="BASE or BASE+ADAPTER: an embedded alias, hub id, local folder or .gguf file",
    )


def refresh_pickers():
    """New adapters (e.g. just trained) appear in the pickers when the page loads."""
    choices = known_model_specs()
    return [gr.Dropdown(choices=choices) for _ in range(3)]


def apply_preset(name: str):
    if name not in PRESETS:
        return gr.skip(), gr.skip()
    return PRESETS[name].temperature, PRESETS[name].min_p


def template_for_mode(mode: str) -> str:
    return default_template(mode).to_yaml()


def compare(model_a, model_b, judge, prompt, preset, temperature, min_p, top_p, max_new_tokens, seed,
            mode, template_text, swap, judge_temperature):
    """Stream both answers, then the judge's scores; every click is saved as a run folder."""
    answer_a = answer_b = ""
    try:
        sampling = SamplingSettings(temperature=float(temperature), min_p=float(min_p), top_p=float(top_p),
                                    max_new_tokens=int(max_new_tokens), seed=int(seed))
        matches_preset = preset in PRESETS and PRESETS[preset].with_(
            max_new_tokens=sampling.max_new_tokens, seed=sampling.seed, top_p=sampling.top_p) == sampling
        config = CompareConfig(
            model_a=model_a, model_b=model_b, judge=judge, mode=mode,
            preset=preset if matches_preset else None, sampling=sampling,
            judge_sampling=DEFAULT_JUDGE_SETTINGS.with_(temperature=float(judge_temperature)),
            template_text=template_text, swap=bool(swap),
        )
        item = single_prompt(prompt)
        record = None
        for update in run_compare(config, [item], label="app"):
            answer_a, answer_b = update.answer_a or answer_a, update.answer_b or answer_b
            if update.stage in STAGE_TEXT:
                yield answer_a, answer_b, f"*{STAGE_TEXT[update.stage]}*", gr.skip(), gr.skip(), gr.skip()
            elif update.stage == "record":
                record = update.record
        # The last yield carries every value, so API clients get the whole result rather than "skip" markers.
        yield (answer_a, answer_b, f"### {verdict_line(record)}", score_rows(record), reasons_markdown(record),
               f"{timings_line(record)}  \nSaved to `{update.run_dir}`")
    except UserFacingError as exc:
        # Answers already streamed stay on the page; the error says what to fix.
        raise gr.Error(str(exc)) from exc


def build_app() -> gr.Blocks:
    with gr.Blocks(title="LLM as a Judge") as demo:
        gr.Markdown(
            "# LLM as a Judge\nPick two models and a judge, write an instruction, and compare the answers on "
            "**relevance, coherence and completeness** (1-4 each, total of 12)."
        )
        with gr.Row():
            model_a = model_picker("Model A", DEFAULT_MODEL_A)
            model_b = model_picker("Model B", DEFAULT_MODEL_B)
            judge = model_picker("Judge", DEFAULT_JUDGE)
        prompt = gr.Textbox(label="Instruction", lines=3, placeholder="Type an instruction or pick an example below",
                            elem_id="prompt")
        gr.Examples(examples=[[p] for p in STUDY_PROMPTS], inputs=[prompt], label="Study prompts")
        with gr.Accordion("Sampling", open=True):
            with gr.Row():
                preset = gr.Radio([*PRESETS, CUSTOM], value="p1", label="Preset",
                                  info="p1: temperature 0.5, min_p 0.05 · p2: temperature 1.5, min_p 0.1")
                temperature = gr.Slider(0, 2, value=PRESETS["p1"].temperature, step=0.05, label="temperature")
                min_p = gr.Slider(0, 0.5, value=PRESETS["p1"].min_p, step=0.01, label="min_p")
                top_p = gr.Slider(0.05, 1, value=1.0, step=0.05, label="top_p")
                max_new_tokens = gr.Slider(16, 1024, value=192, step=16, label="max new tokens",
                                           elem_id="max-new-tokens")
                seed = gr.Number(value=0, precision=0, minimum=0, label="seed")
        with gr.Accordion("Judge", open=False, elem_id="judge-settings"):
            with gr.Row():
                mode = gr.Radio(["single", "pairwise"], value="single", label="Mode", elem_id="mode",
                                info="single: each answer graded alone · pairwise: both shown, judged in both orders")
                swap = gr.Checkbox(value=True, label="Pairwise: also judge with A and B swapped")
                judge_temperature = gr.Slider(0, 1.5, value=0.0, step=0.05, label="judge temperature (0 = greedy)")
            template_text = gr.Code(template_for_mode("single"), language="yaml", label="Judge template (editable)",
                                    lines=14)
        compare_button = gr.Button("Compare", variant="primary", elem_id="compare")
        with gr.Row():
            answer_a = gr.Textbox(label="Answer A", lines=12, interactive=False, elem_id="answer-a")
            answer_b = gr.Textbox(label="Answer B", lines=12, interactive=False, elem_id="answer-b")
        verdict = gr.Markdown(elem_id="verdict")
        scores = gr.Dataframe(headers=SCORE_HEADERS, label="Scores (1-4 per criterion)", interactive=False,
                              elem_id="scores")
        reasons = gr.Markdown(elem_id="reasons")
        status = gr.Markdown(elem_id="status")

        preset.change(apply_preset, preset, [temperature, min_p], api_visibility="private")
        for slider in (temperature, min_p):
            slider.input(lambda: CUSTOM, None, preset, api_visibility="private")
        mode.change(template_for_mode, mode, template_text, api_visibility="private")
        compare_button.click(
            compare,
            [model_a, model_b, judge, prompt, preset, temperature, min_p, top_p, max_new_tokens, seed,
             mode, template_text, swap, judge_temperature],
            [answer_a, answer_b, verdict, scores, reasons, status],
            api_name="compare", concurrency_limit=1,
        )
        demo.load(refresh_pickers, None, [model_a, model_b, judge], api_visibility="private")
    return demo


def preload_default_models() -> None:
    """Load the default models in the background so the first click does not wait for the conversion."""
    for spec in dict.fromkeys((DEFAULT_MODEL_A, DEFAULT_MODEL_B, DEFAULT_JUDGE)):
        try:
            load_model(spec)
        except UserFacingError as exc:
            print(f"could not preload {spec}: {exc}")


if __name__ == "__main__":
    if os.environ.get("LLM_JUDGE_PRELOAD", "1") == "1":
        threading.Thread(target=preload_default_models, daemon=True).start()
    build_app().queue().launch()
