"""LLM as a Judge: the Gradio app. It only wires widgets to the `models`, `judge` and `finetune` packages."""
from __future__ import annotations

import os
import threading

import gradio as gr

from finetune import progress_view as pv
from finetune.config import DEMO_DATA, FIELDS
from judge.compare import DEFAULT_JUDGE, CompareConfig, run_compare
from judge.prompt_sets import DEFAULT_PROMPT_SET, load_prompt_set, single_prompt
from judge.templates import default_template
from judge.views import SCORE_HEADERS, reasons_markdown, score_rows, timings_line, verdict_line
from models import (
    DEFAULT_JUDGE_SETTINGS, PRESETS, SamplingSettings, UserFacingError, known_model_specs, load_model,
)
from models.embedded import EMBEDDED_MODELS
from models.spec import adapters_dir

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
        elem_id="picker-" + label.lower().replace(" ", "-"),
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


# ---- Training tab ----------------------------------------------------------------------------------------------
def config_number(name: str, label: str, info: str | None = None, **kwargs) -> gr.Number:
    """A number box prefilled with FinetuneConfig's default, its help text as info."""
    f = FIELDS[name]
    info = info or f.metadata.get("help")
    return gr.Number(value=f.default, label=label, info=None if info.lower() == label.lower() else info,
                     precision=0 if f.type in (int, "int") else None, elem_id=f"train-{name.replace('_', '-')}",
                     **kwargs)


def start_training(base, data, name, max_steps, save_steps, lora_r, lora_alpha, lora_dropout, learning_rate,
                   per_device_batch_size, gradient_accumulation_steps, max_seq_length, seed, max_rows,
                   progress=gr.Progress()):
    """Train in a background thread; stream the step, loss and a live loss curve; then refresh the pickers."""
    try:
        config = pv.config_from_form(
            name, base=base, data=data, max_steps=max_steps, save_steps=save_steps, lora_r=lora_r,
            lora_alpha=lora_alpha, lora_dropout=lora_dropout, learning_rate=learning_rate,
            per_device_batch_size=per_device_batch_size, gradient_accumulation_steps=gradient_accumulation_steps,
            max_seq_length=max_seq_length, seed=seed, max_rows=max_rows)
        status = f"*Loading `{config.base}` and the data, then training {config.max_steps} steps…*"
        empty_curve = pv.loss_figure({}, max_steps=config.max_steps)
        yield gr.Markdown(visible=True), status, empty_curve, *[gr.skip()] * 4
        progress((0, config.max_steps), desc="loading model and data", unit="steps")
        curve, last_loss = [], None
        for event in pv.run_training(config):
            if not hasattr(event, "step"):  # the TrainResult
                specs = known_model_specs()
                yield (gr.Markdown(visible=False), pv.done_markdown(event),
                       pv.loss_figure({name: event.loss_curve or curve}, max_steps=config.max_steps),
                       *[gr.Dropdown(choices=specs) for _ in range(3)],
                       gr.CheckboxGroup(choices=pv.trained_adapters()))
                return
            if event.loss is not None:
                last_loss = event.loss
                curve.append({"step": event.step, "loss": event.loss})
            status = pv.status_line(event, last_loss)
            if event.saved:
                status += f" · saved `{pv.relative_name(event.saved)}`"
            yield gr.skip(), status, pv.loss_figure({name: curve}, max_steps=config.max_steps), *[gr.skip()] * 4
            progress((min(event.step, event.max_steps), event.max_steps), desc="training", unit="steps")
    except Exception as exc:  # noqa: BLE001 - a bad setting, or e.g. out of memory: say what failed
        message = str(exc) if isinstance(exc, UserFacingError) else f"training failed ({type(exc).__name__}): {exc}"
        # The status keeps the message after the pop-up closes.
        yield gr.Markdown(visible=False), f"**Failed:** {message}", *[gr.skip()] * 5
        raise gr.Error(message) from exc


def fill_data_path(file_path):
    return file_path or gr.skip()


def show_adapters(names):
    """Meta table and overlaid loss curves of the selected adapters."""
    metas = pv.read_metas(names or [])
    return pv.meta_rows(metas), pv.metas_figure(metas) if metas else None


def refresh_adapters(selected):
    choices = pv.trained_adapters()
    return gr.CheckboxGroup(choices=choices, value=[n for n in selected or [] if n in choices])


def training_tab(pickers) -> gr.CheckboxGroup:
    """The Training tab's widgets and events; `pickers` (the Compare tab's) learn new adapters after a run."""
    gr.Markdown(
        f"Fine-tune a **LoRA adapter** on a base model. Checkpoints are saved to `{adapters_dir()}/NAME/step-N` "
        "and appear in the Compare tab's model pickers as `BASE+NAME/step-N`."
    )
    with gr.Row():
        base = gr.Dropdown(choices=list(EMBEDDED_MODELS), value=FIELDS["base"].default, label="Base model",
                           allow_custom_value=True, info=FIELDS["base"].metadata["help"], elem_id="train-base",
                           scale=1)
        data = gr.Textbox(value=DEMO_DATA, label="Training data", info=FIELDS["data"].metadata["help"] +
                          "; layouts: messages, ShareGPT conversations, alpaca instruction/output, prompt/response",
                          elem_id="train-data", scale=3)
        upload = gr.UploadButton("Upload a file", file_types=[".jsonl", ".json", ".csv", ".parquet"], size="md",
                                 scale=0, min_width=160, elem_id="train-upload")
    with gr.Row():
        name = gr.Textbox(value="my-run", label="Output name", elem_id="train-name",
                          info="folder under the adapters folder (an existing run resumes)")
        max_steps = config_number("max_steps", "Max steps")
        save_steps = gr.Textbox(value="", label="Save steps", elem_id="train-save-steps",
                                info="comma-separated, e.g. 20,60; the last step is always saved")
    with gr.Accordion("Hyperparameters", open=False, elem_id="train-hyperparameters"):
        with gr.Row():
            lora_r = config_number("lora_r", "LoRA r")
            lora_alpha = config_number("lora_alpha", "LoRA alpha")
            lora_dropout = config_number("lora_dropout", "LoRA dropout", info="0 = off; below 1", minimum=0,
                                         maximum=0.99, step=0.05)
            learning_rate = config_number("learning_rate", "Learning rate", step=1e-5)
        with gr.Row():
            batch = config_number("per_device_batch_size", "Batch size")
            accumulation = config_number("gradient_accumulation_steps", "Gradient accumulation")
            seq_length = config_number("max_seq_length", "Max sequence length")
            seed = config_number("seed", "Seed")
            max_rows = config_number("max_rows", "Max rows", info="use at most this many rows (0 = all)")
    start = gr.Button("Start training", variant="primary", elem_id="train-start")
    with gr.Row(equal_height=False):
        with gr.Column():
            # The progress bar is drawn over this box (shown while training), so it never hides the status line.
            progress_box = gr.Markdown(elem_id="train-progress", min_height=64, visible=False)
            status = gr.Markdown("*Not started: fill in the form and press Start training.*", elem_id="train-status")
        loss_plot = gr.Plot(label="Training loss (live)", elem_id="train-loss")

    gr.Markdown("## Existing adapters\nSelect checkpoints to compare their settings and loss curves.")
    with gr.Row():
        adapters = gr.CheckboxGroup(choices=pv.trained_adapters(), label="Adapters (relative to the adapters folder)",
                                    elem_id="adapter-list", scale=4)
        refresh = gr.Button("Refresh list", size="md", scale=0, min_width=140, elem_id="adapter-refresh")
    meta_table = gr.Dataframe(headers=pv.META_HEADERS, label="Selected adapters", interactive=False,
                              elem_id="adapter-meta")
    curves = gr.Plot(label="Loss curves (overlaid)", elem_id="adapter-curves")

    upload.upload(fill_data_path, upload, data, api_visibility="private")
    start.click(
        start_training,
        [base, data, name, max_steps, save_steps, lora_r, lora_alpha, lora_dropout, learning_rate, batch,
         accumulation, seq_length, seed, max_rows],
        [progress_box, status, loss_plot, *pickers, adapters],
        api_name="train", concurrency_limit=1, show_progress_on=[progress_box],
    )
    refresh.click(refresh_adapters, adapters, adapters, api_visibility="private")
    adapters.change(show_adapters, adapters, [meta_table, curves], api_visibility="private")
    return adapters


def build_app() -> gr.Blocks:
    model_a_default, model_b_default = pv.default_model_pair()
    with gr.Blocks(title="LLM as a Judge") as demo:
        gr.Markdown(
            "# LLM as a Judge\nPick two models and a judge, write an instruction, and compare the answers on "
            "**relevance, coherence and completeness** (1-4 each, total of 12); or fine-tune an adapter to compare."
        )
        with gr.Tab("Compare", elem_id="tab-compare"):
            with gr.Row():
                model_a = model_picker("Model A", model_a_default)
                model_b = model_picker("Model B", model_b_default)
                judge = model_picker("Judge", DEFAULT_JUDGE)
            prompt = gr.Textbox(label="Instruction", lines=3,
                                placeholder="Type an instruction or pick an example below", elem_id="prompt")
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
                    mode = gr.Radio(
                        ["single", "pairwise"], value="single", label="Mode", elem_id="mode",
                        info="single: each answer graded alone · pairwise: both shown, judged in both orders")
                    swap = gr.Checkbox(value=True, label="Pairwise: also judge with A and B swapped")
                    judge_temperature = gr.Slider(0, 1.5, value=0.0, step=0.05,
                                                  label="judge temperature (0 = greedy)")
                template_text = gr.Code(template_for_mode("single"), language="yaml",
                                        label="Judge template (editable)", lines=14)
            compare_button = gr.Button("Compare", variant="primary", elem_id="compare")
            with gr.Row():
                answer_a = gr.Textbox(label="Answer A", lines=12, interactive=False, elem_id="answer-a")
                answer_b = gr.Textbox(label="Answer B", lines=12, interactive=False, elem_id="answer-b")
            verdict = gr.Markdown(elem_id="verdict")
            scores = gr.Dataframe(headers=SCORE_HEADERS, label="Scores (1-4 per criterion)", interactive=False,
                                  elem_id="scores")
            reasons = gr.Markdown(elem_id="reasons")
            status = gr.Markdown(elem_id="status")
        with gr.Tab("Training", elem_id="tab-training"):
            adapters = training_tab([model_a, model_b, judge])

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
        demo.load(refresh_adapters, adapters, adapters, api_visibility="private")
    return demo


def preload_default_models() -> None:
    """Load the default models in the background so the first click does not wait for the conversion."""
    for spec in dict.fromkeys((*pv.default_model_pair(), DEFAULT_JUDGE)):
        try:
            load_model(spec)
        except UserFacingError as exc:
            print(f"could not preload {spec}: {exc}")


if __name__ == "__main__":
    if os.environ.get("LLM_JUDGE_PRELOAD", "1") == "1":
        threading.Thread(target=preload_default_models, daemon=True).start()
    build_app().queue().launch()
