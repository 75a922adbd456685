"""The Training tab: fine-tune a LoRA adapter from the page with a live loss curve; existing adapters side by side."""
from __future__ import annotations

import gradio as gr

from basics import UserFacingError, adapters_dir
from finetune import progress_view as pv
from finetune.config import DEMO_DATA, FIELDS
from models import EMBEDDED_MODELS
from runs.public import offered_answering_models
from ui.sweep_panel import sweep_panel
from ui.widgets import PRIVATE, refreshed_pickers
from ui.zerogpu import gpu_handler, training_seconds


def config_number(name: str, label: str, info: str | None = None, **kwargs) -> gr.Number:
    """A number box prefilled with FinetuneConfig's default, its help text as info."""
    f = FIELDS[name]
    info = info or f.metadata.get("help")
    return gr.Number(value=f.default, label=label, info=None if info.lower() == label.lower() else info,
                     precision=0 if f.type in (int, "int") else None, elem_id=f"train-{name.replace('_', '-')}",
                     **kwargs)


@gpu_handler(training_seconds)
def start_training(base, data, name, max_steps, save_steps, lora_r, lora_alpha, lora_dropout, learning_rate,
                   per_device_batch_size, gradient_accumulation_steps, max_seq_length, seed, max_rows,
                   progress=gr.Progress()):
    """Train in a background thread; stream the step, loss and a live loss curve; then refresh the pickers."""
    curve = []
    try:
        config = pv.config_from_form(
            name, base=base, data=data, max_steps=max_steps, save_steps=save_steps, lora_r=lora_r,
            lora_alpha=lora_alpha, lora_dropout=lora_dropout, learning_rate=learning_rate,
            per_device_batch_size=per_device_batch_size, gradient_accumulation_steps=gradient_accumulation_steps,
            max_seq_length=max_seq_length, seed=seed, max_rows=max_rows)
        status = f"*Loading `{config.base}` and the data, then training {config.max_steps} steps…*"
        empty_curve = pv.loss_figure({}, max_steps=config.max_steps)
        yield gr.Markdown(visible=True), status, empty_curve, *[gr.skip()] * 4
        progress((0, config.max_steps), desc=pv.progress_words(None), unit="steps")
        last_loss = None
        for event in pv.run_training(config):
            if not hasattr(event, "step"):  # the TrainResult
                yield (gr.Markdown(visible=False), pv.done_markdown(event),
                       pv.loss_figure({name: event.loss_curve or curve}, max_steps=config.max_steps),
                       *picker_updates(),
                       gr.CheckboxGroup(choices=pv.trained_adapters()))
                return
            if event.loss is not None:
                last_loss = event.loss
                curve.append({"step": event.step, "loss": event.loss})
            status = pv.status_line(event, last_loss)
            if event.saved:
                status += f" · saved `{pv.relative_name(event.saved)}`"
            yield gr.skip(), status, pv.loss_figure({name: curve}, max_steps=config.max_steps), *[gr.skip()] * 4
            progress((min(event.step, event.max_steps), event.max_steps), desc=pv.progress_words(event),
                     unit="steps")
    except Exception as exc:  # noqa: BLE001 - a bad setting, or e.g. out of memory: say what failed
        message = str(exc) if isinstance(exc, UserFacingError) else f"training failed ({type(exc).__name__}): {exc}"
        # The status keeps the message after the pop-up closes.
        # A curve with steps stays; an empty one stops saying it is waiting for a step that will not come.
        failed_curve = gr.skip() if curve else pv.loss_figure({}, title="Training failed before its first logged step")
        yield gr.Markdown(visible=False), f"**Failed:** {message}", failed_curve, *[gr.skip()] * 4
        raise gr.Error(message, print_exception=not isinstance(exc, UserFacingError)) from exc


def picker_updates() -> list[gr.Dropdown]:
    """Model A, Model B and the judge learn the new adapters; A and B are not offered the scoring judges."""
    answering = offered_answering_models()
    return [gr.Dropdown(choices=answering), gr.Dropdown(choices=answering), *refreshed_pickers(1)]


def fill_data_path(file_path):
    return file_path or gr.skip()


def show_adapters(names):
    """Meta table and overlaid loss curves of the selected adapters."""
    metas = pv.read_metas(names or [])
    return pv.meta_rows(metas), pv.metas_figure(metas) if metas else None


def refresh_adapters(selected):
    choices = pv.trained_adapters()
    return gr.CheckboxGroup(choices=choices, value=[n for n in selected or [] if n in choices])


def training_tab(pickers: list) -> gr.CheckboxGroup:
    """The Training tab's widgets and events; `pickers` (the Compare tab's) learn new adapters after a run."""
    with gr.Tab("Training", elem_id="tab-training"):
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
                status = gr.Markdown("*Not started: fill in the form and press Start training.*",
                                     elem_id="train-status")
            loss_plot = gr.Plot(label="Training loss (live)", elem_id="train-loss")

        gr.Markdown("## Existing adapters\nSelect checkpoints to compare their settings and loss curves.")
        with gr.Row():
            adapters = gr.CheckboxGroup(choices=pv.trained_adapters(),
                                        label="Adapters (relative to the adapters folder)", elem_id="adapter-list",
                                        scale=4)
            refresh = gr.Button("Refresh list", size="md", scale=0, min_width=140, elem_id="adapter-refresh")
        meta_table = gr.Dataframe(headers=pv.META_HEADERS, label="Selected adapters", interactive=False,
                                  elem_id="adapter-meta")
        curves = gr.Plot(label="Loss curves (overlaid)", elem_id="adapter-curves")
        sweep_panel(adapters)

    upload.upload(fill_data_path, upload, data, **PRIVATE)
    start.click(
        start_training,
        [base, data, name, max_steps, save_steps, lora_r, lora_alpha, lora_dropout, learning_rate, batch,
         accumulation, seq_length, seed, max_rows],
        [progress_box, status, loss_plot, *pickers, adapters],
        api_name="train", concurrency_limit=1, show_progress_on=[progress_box],
    )
    refresh.click(refresh_adapters, adapters, adapters, **PRIVATE)
    adapters.change(show_adapters, adapters, [meta_table, curves], **PRIVATE)
    return adapters
